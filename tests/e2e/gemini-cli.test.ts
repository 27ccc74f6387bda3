// The real gemini-cli (@google/gemini-cli, pinned in package.json) through BitRouter onto a fake
// source of each protocol, offline: a one-shot prompt, and a tool round trip in which the
// source asks for the shell tool, gemini-cli runs it, and the source answers the result with
// text. The CLI's home is a temporary directory holding settings that turn off telemetry,
// usage statistics, update checks, folder trust and retries; a proxy that goes nowhere catches
// any call that is not for BitRouter.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

const GEMINI_CLI = join(import.meta.dir, "../../node_modules/@google/gemini-cli/bundle/gemini.js");
const SOURCES = { chatsrc: "chat_completions", msgsrc: "messages", respsrc: "responses", gemsrc: "generate_content" } as const;
type SourceId = keyof typeof SOURCES;

const SETTINGS = {
  security: { auth: { selectedType: "gemini-api-key" }, folderTrust: { enabled: false } },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  general: { enableAutoUpdate: false, enableAutoUpdateNotification: false, checkpointing: { enabled: false }, maxAttempts: 1 },
  ide: { enabled: false },
  model: { skipNextSpeakerCheck: true, disableLoopDetection: true },
  ui: { hideBanner: true, hideTips: true },
  tools: { useRipgrep: false },
};

const fakes = {} as Record<SourceId, FakeUpstream>;
let bitrouter: RunningBitRouter;
let home: string;

beforeAll(async () => {
  for (const id of Object.keys(SOURCES) as SourceId[]) fakes[id] = await startFakeUpstream(id);
  const providers = (Object.entries(SOURCES) as [SourceId, string][])
    .map(([id, protocol]) => `  ${id}:\n    api_base: ${fakes[id].baseUrl}\n    api_key: key-for-${id}\n    api_protocol: ${protocol}\n    models: [{ id: m }]\n`)
    .join("");
  // Keep-alives after 1 s of silence, so that the slow-source test sees them.
  bitrouter = await startBitRouter({ config: `server:\n  api_keys: [br-cli-key]\n  skip_auth: false\n  keepalive_secs: 1\nproviders:\n${providers}` });
  home = mkdtempSync(join(tmpdir(), "gemini-cli-home-"));
  mkdirSync(join(home, ".gemini"));
  writeFileSync(join(home, ".gemini", "settings.json"), JSON.stringify(SETTINGS));
});
afterAll(async () => {
  expect(await bitrouter.stop()).toBe(0);
  for (const fake of Object.values(fakes)) fake.stop();
  rmSync(home, { recursive: true, force: true });
});

async function gemini(model: string, prompt: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const workspace = mkdtempSync(join(tmpdir(), "gemini-cli-ws-"));
  try {
    const proc = Bun.spawn(["node", GEMINI_CLI, "-m", model, "--approval-mode", "yolo", "-p", prompt], {
      cwd: workspace,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        TERM: "dumb",
        GEMINI_CLI_NO_RELAUNCH: "true",
        GEMINI_API_KEY: "br-cli-key",
        GOOGLE_GEMINI_BASE_URL: bitrouter.url,
        HTTPS_PROXY: "http://127.0.0.1:1",
        HTTP_PROXY: "http://127.0.0.1:1",
        NO_PROXY: "127.0.0.1,localhost",
      },
    });
    const timer = setTimeout(() => proc.kill(), 60_000);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    return { code, stdout, stderr };
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** What the source received, as text: each request's body. */
const inference = (fake: FakeUpstream) => fake.journal.filter((j) => j.method === "POST");

describe("gemini-cli through BitRouter", () => {
  for (const source of Object.keys(SOURCES) as SourceId[]) {
    test(`${source} (${SOURCES[source]}): a one-shot prompt`, async () => {
      fakes[source].reset();
      const run = await gemini(`${source}:m`, "Say hello");
      expect({ code: run.code, stdout: run.stdout.trim(), stderr: run.code === 0 ? "" : run.stderr }).toEqual({ code: 0, stdout: `Hello from ${source}.`, stderr: "" });
      expect(inference(fakes[source])).toHaveLength(1);
      // gemini-cli's key stays with BitRouter; the source gets its own.
      expect(JSON.stringify(inference(fakes[source])[0]!.headers)).not.toContain("br-cli-key");
    }, 90_000);

    test(`${source} (${SOURCES[source]}): a tool round trip (the source asks for the shell, gemini-cli runs it)`, async () => {
      fakes[source].reset();
      const run = await gemini(`${source}:m`, "Run the echo #fake:shell");
      expect({ code: run.code, stderr: run.code === 0 ? "" : run.stderr }).toEqual({ code: 0, stderr: "" });
      const requests = inference(fakes[source]);
      expect(requests).toHaveLength(2);
      // The second turn carries the command's real output back, in the source's own protocol.
      expect(requests[1]!.body).toContain("hello-from-tool");
      expect(requests[1]!.body).toMatch(/Output: hello-from-tool/);
      expect(run.stdout.trim()).toBe(`Hello from ${source}.`);
    }, 90_000);
  }

  test("a source slower than the keep-alive interval: gemini-cli reads the keep-alives and then the answer", async () => {
    for (const source of ["chatsrc", "gemsrc"] as const) {
      fakes[source].reset();
      const run = await gemini(`${source}:m`, "Say hello #fake:slow-first-token:2500");
      expect({ source, code: run.code, stdout: run.stdout.trim(), stderr: run.code === 0 ? "" : run.stderr }).toEqual({ source, code: 0, stdout: `Hello from ${source}.`, stderr: "" });
    }
  }, 90_000);
});
