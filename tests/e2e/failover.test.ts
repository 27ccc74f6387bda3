// Failover before the first token (SPEC §7): the virtual model `smart` tries ollama, then
// openrouter. Every way ollama can fail before its first token must land on openrouter, and
// invisibly: the strict helper sees one clean stream. A 400 is the request's fault and is
// returned as it came, without trying openrouter.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import OpenAI, { APIError } from "openai";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { chatBody, fleetConfig, OPENROUTER_KEY } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let ollama: FakeUpstream;
let openrouter: FakeUpstream;
let bitrouter: RunningBitRouter;
let client: OpenAI;
let closedPort: number;

beforeAll(async () => {
  ollama = await startFakeUpstream("ollama");
  openrouter = await startFakeUpstream("openrouter");
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  closedPort = probe.port;
  probe.stop(true);
  bitrouter = await startBitRouter({
    config: fleetConfig(
      ollama,
      openrouter,
      `  unreachable:
    endpoints:
      - { provider: deadbox, service_id: llama3.1 }
      - { provider: openrouter, service_id: openai/gpt-4o }
`,
    ).replace(
      "providers:\n",
      `providers:
  deadbox:
    api_base: http://127.0.0.1:${closedPort}/v1
    models: [{ id: llama3.1 }]
`,
    ),
    env: { OPENROUTER_API_KEY: OPENROUTER_KEY },
  });
  client = new OpenAI({ apiKey: "unused", baseURL: `${bitrouter.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  expect(await bitrouter.stop()).toBe(0);
  ollama.stop();
  openrouter.stop();
});
beforeEach(() => {
  ollama.reset();
  openrouter.reset();
});

async function askSmart(model = "smart") {
  const stream = client.chat.completions.stream({ model, messages: [{ role: "user", content: "hi" }] });
  return stream.finalChatCompletion();
}

describe("served by openrouter when ollama fails before its first token", () => {
  test.each([
    ["answers 500", "status:500", 2],
    ["answers 529 (overloaded)", "status:529", 2],
    ["answers 503", "status:503", 2],
    ["resets the connection before headers", "reset-before-headers", 2],
    ["sends an in-band error before any token", "error-before-token", 1],
    ["ends the stream before any token", "end-before-token", 1],
    ["sends a malformed event before any token", "malformed-before-token", 1],
    ["sends an event of an impossible shape (choices: [null]) before any token", "odd-before-token", 1],
    ["ends with [DONE] before any token", "done-before-token", 1],
    ["answers 302 (a redirect where an answer was due)", "status:302", 1],
    ["answers 401 (its credential is refused)", "status:401", 1],
    ["answers 404 (does not have the model)", "status:404", 1],
  ])("ollama %s", async (_what, mode, ollamaAttempts) => {
    ollama.mode = mode;
    const completion = await askSmart();
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    expect(completion.model).toBe("smart");
    expect(ollama.requests("/v1/chat/completions")).toHaveLength(ollamaAttempts);
    expect(openrouter.requests("/v1/chat/completions")).toHaveLength(1);
  });

  test("ollama answers 429: Retry-After is honoured for one retry, then openrouter serves", async () => {
    ollama.mode = "status:429:retry-after=1";
    const completion = await askSmart();
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    const tries = ollama.requests("/v1/chat/completions");
    expect(tries).toHaveLength(2);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(950);
  });

  test("ollama goes silent past read_secs (no headers)", async () => {
    ollama.mode = "silent";
    const completion = await askSmart();
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    // A silent source is never retried.
    expect(ollama.requests("/v1/chat/completions")).toHaveLength(1);
  });

  test("ollama stalls after its role chunk, before any token, past read_secs", async () => {
    ollama.mode = "stall-before-token";
    const completion = await askSmart();
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
  });

  test("ollama is unreachable (nothing listens on its port)", async () => {
    const completion = await askSmart("unreachable");
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
  });

  test("non-streaming requests fail over the same way", async () => {
    ollama.mode = "status:529";
    const completion = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    expect(completion.model).toBe("smart");
  });
});

describe("surfaced without trying others", () => {
  test("a 400 from ollama comes back as it is", async () => {
    ollama.mode = "status:400";
    const response = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("smart", { stream: true }) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message: "fake upstream says 400", type: "invalid_request_error", code: "invalid_request_error", param: null } });
    expect(openrouter.journal).toHaveLength(0);
    expect(ollama.requests("/v1/chat/completions")).toHaveLength(1);
  });

  test("the SDK raises it as a BadRequestError", async () => {
    ollama.mode = "status:422";
    const error = await askSmart().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(422);
    expect(openrouter.journal).toHaveLength(0);
  });
});

describe("an exhausted chain", () => {
  test("one error whose status reflects the failures and whose body lists every attempt", async () => {
    ollama.mode = "status:500";
    openrouter.mode = "status:502";
    const response = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("smart") });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; message: string; attempts: { provider: string; status: number }[] } };
    expect(body.error.code).toBe("upstream_unavailable");
    expect(body.error.attempts.map((a) => [a.provider, a.status])).toEqual([
      ["ollama", 500],
      ["ollama", 500],
      ["openrouter", 502],
      ["openrouter", 502],
    ]);
    expect(body.error.message).toContain("all 2 sources for 'smart' failed");
  });

  test("all rate limited → 429 with the shortest Retry-After", async () => {
    ollama.mode = "status:429:retry-after=30";
    openrouter.mode = "status:429:retry-after=20";
    const response = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("smart", { stream: true }) });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("20");
    // Retry-After beyond the cap (max_retry_wait_secs) moves on at once instead of waiting.
    expect(ollama.requests("/v1/chat/completions")).toHaveLength(1);
  });

  test("the process keeps serving after every fault", async () => {
    const health = await fetch(`${bitrouter.url}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    const completion = await askSmart();
    expect(completion.choices[0]?.message.content).toBe("Hello from ollama.");
  });
});
