// The CLI contract (SPEC §2): data on stdout, diagnostics on stderr, exit 0/1/2; init, config
// check, route, models; signals: SIGHUP reloads atomically, SIGTERM drains in-flight requests.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { terminalSafe } from "../../src/cli/io.ts";
import { renderSummary } from "../../src/cli/commands/usage.ts";
import type { UsageSummary } from "../../src/ledger/store.ts";
import { bitrouterCommand, cleanEnv, runBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { chatBody, fleetConfig, OPENROUTER_KEY } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let ollama: FakeUpstream;
let openrouter: FakeUpstream;

beforeAll(async () => {
  ollama = await startFakeUpstream("ollama");
  openrouter = await startFakeUpstream("openrouter");
});
afterAll(() => {
  ollama.stop();
  openrouter.stop();
});

function workdir(config?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bitrouter-cli-"));
  if (config !== undefined) writeFileSync(join(dir, "bitrouter.yaml"), config);
  return dir;
}

describe("basics", () => {
  test("--version and help print to stdout and exit 0", async () => {
    const version = await runBitRouter(["--version"]);
    expect(version).toMatchObject({ code: 0, stderr: "" });
    expect(version.stdout).toMatch(/^bitrouter \d+\.\d+\.\d+/);
    const help = await runBitRouter(["help"]);
    expect(help.code).toBe(0);
    for (const command of ["serve", "init", "models", "route", "config check", "status"]) expect(help.stdout).toContain(command);
    const routeHelp = await runBitRouter(["route", "--help"]);
    expect(routeHelp.stdout).toStartWith("Usage: bitrouter route <model>");
  });

  test("an unknown command or flag is a usage error: exit 2, message on stderr", async () => {
    const unknown = await runBitRouter(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(unknown.stdout).toBe("");
    const flag = await runBitRouter(["models", "--bogus"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--bogus");
  });
});

describe("init", () => {
  test("writes a commented starter config that loads, and never overwrites without --force", async () => {
    const dir = workdir();
    const first = await runBitRouter(["init"], { cwd: dir });
    expect(first.code).toBe(0);
    const written = readFileSync(join(dir, "bitrouter.yaml"), "utf8");
    expect(written).toContain("skip_auth: true");
    expect(written).toContain("listen: 127.0.0.1:4356");
    for (const example of ["openrouter:", "ollama:", "vllm:", "smart:"]) expect(written).toContain(example);
    expect(first.stdout).toContain("Next steps");

    const again = await runBitRouter(["init"], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
    writeFileSync(join(dir, "bitrouter.yaml"), "# mine\n");
    expect((await runBitRouter(["init", "--force"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, "bitrouter.yaml"), "utf8")).toBe(written);

    const check = await runBitRouter(["config", "check"], { cwd: dir });
    expect(check.code).toBe(0);
  });

  test("init -c x.yaml, then serving it on a given address", async () => {
    const dir = workdir();
    expect((await runBitRouter(["init", "-c", "x.yaml"], { cwd: dir })).code).toBe(0);
    const running = await startBitRouter({ dir, args: ["-c", "x.yaml", "--listen", "127.0.0.1:0"] });
    expect((await fetch(`${running.url}/health`)).status).toBe(200);
    expect(running.stdout()).toContain(`config:  ${join(dir, "x.yaml")}`);
    expect(await running.stop()).toBe(0);
  });
});

describe("config check", () => {
  test("a misspelt key: its line and column, and the key meant; exit 1", async () => {
    const dir = workdir("providers:\n  openrouter:\n    api_key: ${OPENROUTER_API_KEY}\n    modles:\n      - id: openai/gpt-4o\n");
    const result = await runBitRouter(["config", "check"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, "bitrouter.yaml")}:4:5: error: unknown key 'modles' in providers.openrouter`);
    expect(result.stderr).toContain("fix: did you mean 'models'?");
    const json = await runBitRouter(["config", "check", "--json"], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, errors: [{ line: 4, column: 5, hint: "did you mean 'models'?" }] });
  });

  test("a valid file reports unset variables and the providers they leave inactive", async () => {
    const dir = workdir("providers:\n  openrouter:\n    api_key: ${OPENROUTER_API_KEY}\n");
    const result = await runBitRouter(["config", "check", "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ valid: true, unset: ["OPENROUTER_API_KEY"], inactive: [{ provider: "openrouter", reason: "OPENROUTER_API_KEY is not set" }] });
  });

  test("serve refuses a broken config with the same report", async () => {
    const dir = workdir("server:\n  listen: 127.0.0.1:4356\n  skip_auht: true\n");
    const result = await runBitRouter(["serve"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(":3:3: error: unknown key 'skip_auht' in server");
    expect(result.stderr).toContain("did you mean 'skip_auth'?");
  });
});

describe("route and models show what requests do", () => {
  const config = () => fleetConfig(ollama, openrouter, "").replace("providers:\n", "providers:\n  groq:\n    models: [{ id: llama3.1 }]\n");

  test("route <virtual model>: the chain in order, with skipped sources and why", async () => {
    const dir = workdir(config().replace("      - { provider: openrouter", "      - { provider: groq, service_id: llama3.1 }\n      - { provider: openrouter"));
    const result = await runBitRouter(["route", "smart", "--json"], { cwd: dir, env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    expect(result.code).toBe(0);
    const route = JSON.parse(result.stdout);
    expect(route.via).toBe("virtual");
    expect(route.chain.map((c: { provider: string; model: string }) => `${c.provider}/${c.model}`)).toEqual(["ollama/llama3.1", "openrouter/openai/gpt-4o"]);
    expect(route.skipped).toEqual([{ provider: "groq", model: "llama3.1", reason: "inactive: GROQ_API_KEY is not set" }]);

    const text = await runBitRouter(["route", "smart"], { cwd: dir, env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    expect(text.stdout).toContain("1. ollama  llama3.1  [chat_completions]");
    expect(text.stdout).toContain("2. openrouter  openai/gpt-4o  [chat_completions]");
    expect(text.stdout).toContain("skipped: groq");

    // The same chain a request walks: with ollama down, openrouter serves.
    const running = await startBitRouter({ dir, args: ["serve", "--listen", "127.0.0.1:0"], env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    ollama.reset();
    openrouter.reset();
    ollama.mode = "status:500";
    const client = new OpenAI({ apiKey: "x", baseURL: `${running.url}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    expect([...ollama.journal, ...openrouter.journal].map((j) => j.json?.model)).toEqual(["llama3.1", "llama3.1", "openai/gpt-4o"]);
    ollama.reset();
    expect(await running.stop()).toBe(0);
  });

  test("route of an unknown model: the 404 message, exit 1", async () => {
    const dir = workdir(config());
    const result = await runBitRouter(["route", "gpt-4o"], { cwd: dir, env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("model 'gpt-4o' not found");
  });

  test("models lists virtual models and each bare id with its sources; sources without models are asked", async () => {
    ollama.models = ["qwen3", "llama3.1"];
    const dir = workdir(config().replace("    models:\n      - id: llama3.1\n", ""));
    const result = await runBitRouter(["models", "--json"], { cwd: dir, env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).models.map((m: { id: string; providers: string[] }) => [m.id, m.providers])).toEqual([
      ["smart", ["ollama", "openrouter"]],
      ["llama3.1", ["ollama"]],
      ["openai/gpt-4o", ["openrouter"]],
      ["qwen3", ["ollama"]],
    ]);
    ollama.models = [];
  });
});

describe("signals", () => {
  test("SIGHUP reloads: a valid file takes effect, an invalid one is reported and the old one stays", async () => {
    const dir = workdir(fleetConfig(ollama, openrouter));
    const running = await startBitRouter({ dir, args: ["serve", "--listen", "127.0.0.1:0"], env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    const ask = (model: string) => fetch(`${running.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody(model) });
    expect((await ask("fast")).status).toBe(404);

    writeFileSync(join(dir, "bitrouter.yaml"), fleetConfig(ollama, openrouter).replace("models:\n  smart:", "models:\n  fast:\n    endpoints:\n      - { provider: ollama, service_id: llama3.1 }\n  smart:"));
    running.proc.kill("SIGHUP");
    await waitFor(() => running.stderr().includes("config reloaded"));
    expect((await ask("fast")).status).toBe(200);

    writeFileSync(join(dir, "bitrouter.yaml"), "providers:\n  ollama:\n    api_bsae: nope\n");
    running.proc.kill("SIGHUP");
    await waitFor(() => running.stderr().includes("reload failed"));
    expect(running.stderr()).toContain("unknown key 'api_bsae'");
    expect((await ask("fast")).status).toBe(200);
    expect(await running.stop()).toBe(0);
  });

  test("SIGTERM lets an in-flight stream finish, then exits 0", async () => {
    const dir = workdir(fleetConfig(ollama, openrouter));
    const running = await startBitRouter({ dir, args: ["serve", "--listen", "127.0.0.1:0"], env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    const response = await fetch(`${running.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("ollama:llama3.1", { stream: true }, "#fake:slow-first-token:600") });
    const body = response.text();
    await Bun.sleep(100);
    const exit = running.stop();
    const text = await body;
    expect(text).toContain('"finish_reason":"stop"');
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    expect(await exit).toBe(0);
  });
});

describe("discovery and the environment", () => {
  test("a source that declares no models learns them at start, and serves them by bare name", async () => {
    ollama.reset();
    ollama.models = ["qwen3", "llama3.1"];
    const dir = workdir(`providers:\n  ollama:\n    api_base: ${ollama.baseUrl}\n`);
    const running = await startBitRouter({ dir, args: ["serve", "--listen", "127.0.0.1:0"] });
    expect(running.stdout()).toContain("2 models (discovery)");
    const response = await fetch(`${running.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("qwen3") });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-bitrouter-provider")).toBe("ollama");
    ollama.models = [];
    expect(await running.stop()).toBe(0);
  });

  test("a .env file in the working directory is not read", async () => {
    const dir = workdir();
    writeFileSync(join(dir, ".env"), "OPENROUTER_API_KEY=sk-or-from-dotenv\n");
    const result = await runBitRouter(["status", "--json"], { cwd: dir });
    const status = JSON.parse(result.stdout);
    expect(status.sources.find((s: { provider: string }) => s.provider === "openrouter")).toMatchObject({ active: false, reason: "OPENROUTER_API_KEY is not set" });
  });
});

describe("zero config", () => {
  test("with no config file, every built-in whose key variable is set is active", async () => {
    const dir = workdir();
    const result = await runBitRouter(["status", "--json"], { cwd: dir, env: { GROQ_API_KEY: "gsk-test" } });
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.config).toBeNull();
    expect(status.sources.filter((s: { active: boolean }) => s.active).map((s: { provider: string }) => s.provider)).toEqual(["groq"]);
    expect(status.sources.find((s: { provider: string }) => s.provider === "openrouter").reason).toBe("OPENROUTER_API_KEY is not set");
    expect(result.stdout).not.toContain("gsk-test");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

describe("the repository's own bitrouter.yaml (what `npm start` serves)", () => {
  const root = join(import.meta.dir, "../..");
  test("is found from the repository root, is valid, and routes smart to Ollama first, OpenRouter second", async () => {
    const check = await runBitRouter(["config", "check"], { cwd: root });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`${join(root, "bitrouter.yaml")}: valid (2 providers, 1 virtual model)`);
    const route = await runBitRouter(["route", "smart"], { cwd: root, env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    expect(route.code).toBe(0);
    expect(route.stdout).toMatch(/1\. ollama\s+llama3\.1[\s\S]*2\. openrouter\s+openai\/gpt-4o/);
    expect(readFileSync(join(root, "bitrouter.yaml"), "utf8")).not.toMatch(/sk-[\w-]{8,}/);
  });
});

describe("misspellings and failures are told plainly (issue #9)", () => {
  test("a misspelt command gets a did-you-mean and exit 2; `config` alone shows its help", async () => {
    const typo = await runBitRouter(["modles"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'modles'; did you mean 'models'?");
    const sub = await runBitRouter(["config", "chek"]);
    expect(sub.stderr).toContain("did you mean 'config check'?");
    const bare = await runBitRouter(["config"]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toContain("Usage: bitrouter config check");
    expect((await runBitRouter(["config", "--help"])).code).toBe(0);
  });

  test("init that cannot write says so in one line and exits 1, never 'wrote' and never a stack trace", async () => {
    const result = await runBitRouter(["init", "-c", "/proc/bitrouter-test/x.yaml"]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain("wrote");
    expect(result.stderr).toStartWith("error: cannot write /proc/bitrouter-test/x.yaml");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("status says what is so (issue #9)", () => {
  test("a configured local server that is not running is active but flagged: nothing answers there", async () => {
    const up = await startFakeUpstream("up");
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const closedPort = probe.port;
    probe.stop(true);
    try {
      const dir = mkdtempSync(join(tmpdir(), "bitrouter-status-"));
      writeFileSync(join(dir, "bitrouter.yaml"), `providers:\n  ollama:\n    api_base: http://127.0.0.1:${closedPort}/v1\n    models: [{ id: a }]\n  vllm:\n    api_base: ${up.baseUrl}\n    models: [{ id: b }]\n`);
      const json = JSON.parse((await runBitRouter(["status", "--json"], { cwd: dir })).stdout) as { sources: { provider: string; reachable?: boolean; reason: string }[] };
      expect(json.sources.find((s) => s.provider === "ollama")).toMatchObject({ reachable: false });
      expect(json.sources.find((s) => s.provider === "vllm")).toMatchObject({ reachable: true, reason: "configured, no key" });
      const text = (await runBitRouter(["status"], { cwd: dir })).stdout;
      expect(text).toContain(`nothing answers at http://127.0.0.1:${closedPort}/v1`);
    } finally {
      up.stop();
    }
  });
});

describe("output for a terminal", () => {
  test("a reader that goes away (`bitrouter status | head -c 1`) ends the command quietly, with no stack trace", async () => {
    const home = mkdtempSync(join(tmpdir(), "bitrouter-epipe-"));
    const proc = Bun.spawn(["sh", "-c", `${bitrouterCommand().map((p) => `'${p}'`).join(" ")} status | head -c 1 >/dev/null`], { cwd: home, env: cleanEnv({}, home), stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("names a client chose cannot send escape sequences to the operator's terminal or forge a row", async () => {
    const summary = {
      since: "2026-11-01T00:00:00.000Z",
      until: "2026-11-02T00:00:00.000Z",
      by: "model",
      utc_offset_minutes: 0,
      groups: [{ key: "evil\u001b]0;TITLE\u0007\nFAKE total 99999", ...zeros() }, { key: "", ...zeros() }],
      total: zeros(),
      unpriced_models: ["\u001b[31mred"],
    } as unknown as UsageSummary;
    const text = renderSummary(summary, "/tmp/usage.db");
    expect(text).not.toContain("\u001b");
    expect(text).toContain("evil\\u001b]0;TITLE\\u0007\\u000aFAKE total 99999");
    expect(text).toContain("(none)");
    // And whatever any command writes: control characters are shown, never sent.
    expect(terminalSafe("a\u001b[31mb\n\tc")).toBe("a\\u001b[31mb\n\tc");
  });
});

function zeros() {
  return { requests: 1, errors: 0, failovers: 0, input_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0, reasoning_tokens: 0, cache_hit_ratio: null, cost_usd: 0, list_cost_usd: 0, saved_usd: 0, unpriced_requests: 1, usage_missing_requests: 0 };
}
