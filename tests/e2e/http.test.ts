// The HTTP surface (SPEC §5): every bad input gets a precise error in the caller's protocol
// with a real status, auth, /v1/models, /health, request ids.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { AuthenticationError, NotFoundError } from "openai";
import { type RunningBitRouter, runBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { chatBody, fleetConfig, OPENROUTER_KEY } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let ollama: FakeUpstream;
let openrouter: FakeUpstream;
let open: RunningBitRouter;
let locked: RunningBitRouter;

beforeAll(async () => {
  ollama = await startFakeUpstream("ollama");
  openrouter = await startFakeUpstream("openrouter");
  open = await startBitRouter({ config: fleetConfig(ollama, openrouter).replace("server:\n", "server:\n  body_limit_mb: 0.01\n"), env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
  locked = await startBitRouter({
    config: fleetConfig(ollama, openrouter).replace("server:\n", 'server:\n  api_keys: ["${BITROUTER_KEY}", "second-key"]\n'),
    env: { OPENROUTER_API_KEY: OPENROUTER_KEY, BITROUTER_KEY: "br-local-key" },
  });
});
afterAll(async () => {
  expect(await open.stop()).toBe(0);
  expect(await locked.stop()).toBe(0);
  ollama.stop();
  openrouter.stop();
});

const post = (base: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  fetch(`${base}/v1/chat/completions`, { method: "POST", headers, body });

async function errorOf(response: Response) {
  expect(response.headers.get("content-type")).toStartWith("application/json");
  expect(response.headers.get("x-bitrouter-request-id")).toBeTruthy();
  return ((await response.json()) as { error: { message: string; type: string; code: string } }).error;
}

describe("bad input: a precise error, in OpenAI's shape, with a real status", () => {
  test("an unknown model is a 404 naming what was searched and suggesting close ids", async () => {
    const response = await post(open.url, chatBody("gpt-4o"));
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.code).toBe("model_not_found");
    expect(error.message).toContain("model 'gpt-4o' not found");
    expect(error.message).toContain("Did you mean 'openai/gpt-4o'");
    // The SDK maps it to its own class.
    const client = new OpenAI({ apiKey: "x", baseURL: `${open.url}/v1`, maxRetries: 0 });
    expect(await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).catch((e) => e)).toBeInstanceOf(NotFoundError);
  });

  test("malformed JSON is a 400 that says where", async () => {
    const response = await post(open.url, '{"model": "llama3.1", "messages": [}');
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("invalid_json");
    expect(error.message).toStartWith("request body is not valid JSON");
  });

  test("a wrong content type is a 415", async () => {
    const response = await post(open.url, chatBody("llama3.1"), { "content-type": "text/plain" });
    expect(response.status).toBe(415);
    expect((await errorOf(response)).message).toContain("Content-Type must be application/json");
  });

  test("a body over the limit is a 413, declared or chunked", async () => {
    const big = chatBody("llama3.1", {}, "x".repeat(20_000));
    const declared = await post(open.url, big);
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).type).toBe("request_too_large");
    const chunked = await fetch(`${open.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(big));
          c.close();
        },
      }),
    });
    expect(chunked.status).toBe(413);
  });

  test("a body that is not a chat request is a 400 naming the field", async () => {
    const response = await post(open.url, JSON.stringify({ model: "llama3.1" }));
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toStartWith("messages:");
    const array = await post(open.url, "[1,2]");
    expect((await errorOf(array)).message).toBe("request body must be a JSON object");
  });

  test("an unknown route is a JSON 404, never HTML", async () => {
    const response = await fetch(`${open.url}/v1/embeddings`, { method: "POST" });
    expect(response.status).toBe(404);
    expect((await errorOf(response)).message).toBe("no route POST /v1/embeddings");
  });

  test("no upstream was bothered by any of it", () => {
    expect(ollama.requests("/v1/chat/completions")).toHaveLength(0);
    expect(openrouter.requests("/v1/chat/completions")).toHaveLength(0);
  });
});

describe("inbound auth", () => {
  test("with api_keys, a request without a key is refused with 401", async () => {
    const response = await post(locked.url, chatBody("llama3.1"));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="bitrouter"');
    expect((await errorOf(response)).code).toBe("missing_api_key");
    const client = new OpenAI({ apiKey: "wrong-key", baseURL: `${locked.url}/v1`, maxRetries: 0 });
    expect(await client.chat.completions.create({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] }).catch((e) => e)).toBeInstanceOf(AuthenticationError);
  });

  test("Bearer and x-api-key both work, and neither reaches the source", async () => {
    ollama.reset();
    const bearer = await post(locked.url, chatBody("llama3.1"), { "content-type": "application/json", authorization: "Bearer br-local-key" });
    expect(bearer.status).toBe(200);
    const xApiKey = await post(locked.url, chatBody("llama3.1"), { "content-type": "application/json", "x-api-key": "second-key" });
    expect(xApiKey.status).toBe(200);
    for (const sent of ollama.requests("/v1/chat/completions")) {
      expect(sent.headers.authorization).toBeUndefined();
      expect(sent.headers["x-api-key"]).toBeUndefined();
    }
  });

  test("/health is never authenticated; /v1/models is", async () => {
    expect((await fetch(`${locked.url}/health`)).status).toBe(200);
    expect((await fetch(`${locked.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${locked.url}/v1/models`, { headers: { authorization: "Bearer br-local-key" } })).status).toBe(200);
  });

  test("a non-loopback listen with auth off refuses to start", async () => {
    const result = await runBitRouter(["serve", "--listen", "0.0.0.0:0"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing to listen on 0.0.0.0:0 with auth off");
  });
});

describe("listing and health", () => {
  test("GET /health", async () => {
    const response = await fetch(`${open.url}/health`);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  test("GET /v1/models lists virtual models and every bare model id with its sources", async () => {
    const client = new OpenAI({ apiKey: "x", baseURL: `${open.url}/v1` });
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((m) => [m.id, (m as unknown as { providers: string[] }).providers])).toEqual([
      ["smart", ["ollama", "openrouter"]],
      ["llama3.1", ["ollama"]],
      ["openai/gpt-4o", ["openrouter"]],
    ]);
    expect(models[0]).toMatchObject({ object: "model", owned_by: "bitrouter" });
    expect(typeof models[0]?.created).toBe("number");
  });

  test("a client's own x-bitrouter-request-id is kept and sent upstream", async () => {
    ollama.reset();
    const response = await post(open.url, chatBody("llama3.1"), { "content-type": "application/json", "x-bitrouter-request-id": "trace-123" });
    expect(response.headers.get("x-bitrouter-request-id")).toBe("trace-123");
    expect(ollama.journal[0]?.headers["x-bitrouter-request-id"]).toBe("trace-123");
  });
});

describe("header hygiene on the way back", () => {
  test("a compressed answer reaches the client decoded: no content-encoding, no stale length, no cookies", async () => {
    const response = await post(open.url, chatBody("llama3.1", {}, "#fake:gzip"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-encoding")).toBeNull();
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("99");
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toBe("Hello from ollama.");
  });
});

describe("logging", () => {
  test("one line per request with what served it, and no secret", async () => {
    await post(open.url, chatBody("openrouter:openai/gpt-4o", { stream: true }));
    await Bun.sleep(50);
    const line = open.stderr().split("\n").find((l) => l.includes("request finished") && l.includes("provider=openrouter"));
    expect(line).toBeDefined();
    for (const field of ["request_id=", "model=openrouter:openai/gpt-4o", "upstream_model=openai/gpt-4o", "stream=true", "status=200", "attempts=1", "ttft_ms=", "duration_ms=", "input_tokens=11", "output_tokens=7"]) {
      expect(line).toContain(field);
    }
    expect(open.stderr() + open.stdout()).not.toContain(OPENROUTER_KEY);
    expect(locked.stderr() + locked.stdout()).not.toContain("br-local-key");
  });
});

describe("a source whose api_base is BitRouter itself", () => {
  test("the request that comes back is refused as a loop, and the caller gets a clear error instead of a hang", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-loop-"));
    const configPath = join(dir, "bitrouter.yaml");
    writeFileSync(
      configPath,
      `
upstream:
  timeouts:
    read_secs: 5
providers:
  self:
    api_base: http://127.0.0.1:${port}/v1
    models: [{ id: looped }]
models:
  looped:
    endpoints:
      - { provider: self, service_id: looped }
`,
    );
    const looped = await startBitRouter({ dir, args: ["serve", "-c", configPath, "--listen", `127.0.0.1:${port}`] });
    try {
      const response = await post(looped.url, chatBody("looped"));
      expect(response.status).toBe(503);
      const error = await errorOf(response);
      expect(error.message).toContain("a source's api_base points at BitRouter itself");
      expect((await fetch(`${looped.url}/health`)).status).toBe(200);
    } finally {
      expect(await looped.stop()).toBe(0);
    }
  });
});
