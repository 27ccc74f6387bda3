// The server wired in-process (createApp + startServer) on real sockets, for what needs
// control of Bun itself: its idle timer, and the upstream client's connect deadline.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfigText } from "../../src/config/load.ts";
import { silentLogger } from "../../src/log.ts";
import { createApp } from "../../src/server/app.ts";
import { type RunningServer, startServer } from "../../src/server/serve.ts";
import { buildRegistry, type Registry } from "../../src/sources/registry.ts";
import { type ConnectProbe, createUpstreamClient, UpstreamFailure } from "../../src/upstream/client.ts";
import { chatBody } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let ollama: FakeUpstream;
let server: RunningServer;
let registry: Registry;

beforeAll(async () => {
  ollama = await startFakeUpstream("ollama");
  const yaml = `providers:\n  ollama:\n    api_base: ${ollama.baseUrl}\n    models: [{ id: llama3.1 }]\n`;
  registry = buildRegistry({ ...parseConfigText(yaml, "t.yaml", {}), path: "t.yaml" }, {});
  const app = createApp({ registry: () => registry, upstream: createUpstreamClient({ fetch }), log: silentLogger });
  // Bun's idle timer at 2 s: without disableIdleTimeout on inference routes, a stream that
  // pauses for 6 s (well within read_secs) would have the client's connection cut at about 4 s.
  server = startServer(app, { host: "127.0.0.1", port: 0, idleTimeoutSecs: 2 });
});
afterAll(async () => {
  await server.stop(0);
  ollama.stop();
});

describe("Bun's idle timer", () => {
  test("a stream that pauses longer than Bun's idle timeout still completes", async () => {
    const response = await fetch(new URL("/v1/chat/completions", server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody("llama3.1", { stream: true }, "#fake:pause-after:1:6000"),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"content":"ollama"');
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
  }, 15000);
});

describe("the upstream client's connect deadline", () => {
  test("a host that accepts no connection fails as `connect` once the probe gives up", async () => {
    // A source that never answers, and a probe that says the host cannot be reached.
    const unreachable: ConnectProbe = () => Promise.reject(new Error("no route to host"));
    const client = createUpstreamClient({ fetch, probe: unreachable });
    const silent = await startFakeUpstream("silent");
    silent.mode = "silent";
    const started = performance.now();
    const failure = await client
      .send({ url: `${silent.baseUrl}/chat/completions`, headers: { "content-type": "application/json" }, body: chatBody("m"), timeouts: { connectMs: 300, readMs: 10_000, totalMs: null } })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect((failure as UpstreamFailure).kind).toBe("connect");
    expect((failure as UpstreamFailure).message).toContain("within connect_secs");
    expect(performance.now() - started).toBeLessThan(5000);
    silent.stop();
  });

  test("total_secs caps a whole request, even a healthy stream", async () => {
    const client = createUpstreamClient({ fetch });
    const endless = await startFakeUpstream("endless");
    const response = await client.send({
      url: `${endless.baseUrl}/chat/completions`,
      headers: { "content-type": "application/json" },
      body: chatBody("m", { stream: true }, "#fake:endless"),
      timeouts: { connectMs: 1000, readMs: 5_000, totalMs: 400 },
    });
    const failure = await (async () => {
      for (;;) if ((await response.read()).done) return undefined;
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect((failure as UpstreamFailure).message).toContain("total_secs");
    endless.stop();
  });

  test("a reachable but slow host is left to read_secs", async () => {
    const reachable: ConnectProbe = () => Promise.resolve();
    const client = createUpstreamClient({ fetch, probe: reachable });
    const slow = await startFakeUpstream("slow");
    const response = await client.send({
      url: `${slow.baseUrl}/chat/completions`,
      headers: { "content-type": "application/json" },
      body: chatBody("m", {}, "#fake:slow-headers:600"),
      timeouts: { connectMs: 100, readMs: 5_000, totalMs: null },
    });
    expect(response.status).toBe(200);
    await response.text();
    slow.stop();
  });
});
