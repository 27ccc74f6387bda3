// Local servers without configuration (SPEC §1, §6): a fake Ollama on its default port is
// detected with no config file at all; its models are listed (with the facts it reports) and
// served by bare name; when it stops they leave within one detection interval, and requests get
// a clear error, not a hang; a host listed in the config is probed the same way.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningBitRouter, runBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { chatBody } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

const running: RunningBitRouter[] = [];
const fakes: FakeUpstream[] = [];
afterAll(async () => {
  for (const r of running) expect(await r.stop()).toBe(0);
  for (const f of fakes) f.stop();
});

async function ollamaAt(port: number): Promise<FakeUpstream> {
  const fake = await startFakeUpstream("ollama", { port });
  fake.models = ["llama3.1:latest", "qwen2.5-coder:7b"];
  fakes.push(fake);
  return fake;
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(50);
  }
}

const listed = async (url: string) => ((await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string; providers: string[]; context_length?: number; capabilities?: string[] }[] }).data;

describe("with no config file", () => {
  test("a fake Ollama on 127.0.0.1:11434 is detected, listed, served by bare name; leaves when it stops, and comes back", async () => {
    let ollama = await ollamaAt(11434);
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-zero-"));
    const bitrouter = await startBitRouter({ dir, args: ["serve", "--listen", "127.0.0.1:0"], env: { BITROUTER_DETECT_INTERVAL_SECS: "1" } });
    running.push(bitrouter);
    expect(bitrouter.stdout()).toContain("config:  built-in defaults");
    expect(bitrouter.stdout()).toMatch(/ollama\s+active\s+self-hosted, http:\/\/127\.0\.0\.1:11434\/v1, 3 models \(detection\); detected at http:\/\/127\.0\.0\.1:11434/);

    const models = await listed(bitrouter.url);
    expect(models.find((m) => m.id === "llama3.1")).toMatchObject({ providers: ["ollama"], context_length: 131072, capabilities: ["tools"] });
    expect(models.map((m) => m.id)).toEqual(expect.arrayContaining(["llama3.1", "llama3.1:latest", "qwen2.5-coder:7b"]));

    const response = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("llama3.1") });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-bitrouter-provider")).toBe("ollama");
    expect(ollama.requests("/v1/chat/completions")[0]?.json?.model).toBe("llama3.1:latest");

    const route = (await (await fetch(`${bitrouter.url}/bitrouter/route?model=llama3.1`)).json()) as { chain: { provider: string; why: string }[] };
    expect(route.chain).toHaveLength(1);
    expect(route.chain[0]?.why).toContain("detected at http://127.0.0.1:11434");

    // Ollama stops: at once, a request fails fast with a clear error (no hang)…
    ollama.stop();
    const meanwhile = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("llama3.1") });
    expect([404, 503]).toContain(meanwhile.status);
    // …and within one detection interval its models are gone.
    await until(async () => ((await listed(bitrouter.url)).some((m) => m.id === "llama3.1") ? undefined : true));
    const gone = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("llama3.1") });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { message: string } }).error.message).toContain("model 'llama3.1' not found");
    expect(bitrouter.stderr()).toContain("local server gone provider=ollama");

    ollama = await ollamaAt(11434);
    await until(async () => ((await listed(bitrouter.url)).some((m) => m.id === "llama3.1") ? true : undefined));
    ollama.stop();
  }, 20000);

  test("status lists the detected server with its models", async () => {
    const ollama = await ollamaAt(11434);
    const result = await runBitRouter(["status", "--json"]);
    const status = JSON.parse(result.stdout) as { detected: { provider: string; models: { id: string; context_length: number }[] }[] };
    expect(status.detected[0]).toMatchObject({ provider: "ollama" });
    expect(status.detected[0]?.models.map((m) => m.id)).toContain("qwen2.5-coder:7b");
    ollama.stop();
  });
});

describe("configured detection", () => {
  test("a host listed under detect.hosts is probed the same way; detect: false turns detection off", async () => {
    const probePort = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probePort.port;
    probePort.stop(true);
    const gpuBox = await ollamaAt(port);
    const bitrouter = await startBitRouter({ config: `detect:\n  hosts: ["127.0.0.1:${port}"]\n`, env: { BITROUTER_DETECT_INTERVAL_SECS: "1" } });
    running.push(bitrouter);
    const id = `ollama@127.0.0.1-${port}`;
    expect((await listed(bitrouter.url)).find((m) => m.id === "qwen2.5-coder:7b")?.providers).toEqual([id]);
    const pinned = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody(`${id}:qwen2.5-coder:7b`) });
    expect(pinned.status).toBe(200);
    expect(gpuBox.requests("/v1/chat/completions")[0]?.json?.model).toBe("qwen2.5-coder:7b");

    const off = await startBitRouter({ config: `detect: false\n` });
    running.push(off);
    expect((await listed(off.url)).some((m) => m.id === "qwen2.5-coder:7b")).toBe(false);
  });
});
