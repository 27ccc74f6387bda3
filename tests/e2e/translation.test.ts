// Translation beyond the happy path: thinking and refusals, cached-token usage, errors in the
// caller's protocol before and during the stream, Anthropic headers, count_tokens, and failover
// from a Messages source to a Chat source for an Anthropic client.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { PER_REQUEST_FAILOVER } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let chatsrc: FakeUpstream;
let msgsrc: FakeUpstream;
let respsrc: FakeUpstream;
let bitrouter: RunningBitRouter;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(async () => {
  chatsrc = await startFakeUpstream("chatsrc");
  msgsrc = await startFakeUpstream("msgsrc");
  respsrc = await startFakeUpstream("respsrc");
  bitrouter = await startBitRouter({
    config: `${PER_REQUEST_FAILOVER}server:
  keepalive_secs: 1
upstream:
  timeouts:
    read_secs: 2
providers:
  chatsrc:
    api_base: ${chatsrc.baseUrl}
    models: [{ id: m }, { id: thinker, capabilities: [reasoning] }]
  msgsrc:
    api_base: ${msgsrc.baseUrl}
    api_key: sk-ant-source-key
    api_protocol: messages
    models: [{ id: m }, { id: claude-sonnet-4-5 }]
  respsrc:
    api_base: ${respsrc.baseUrl}
    api_key: sk-resp-source-key
    api_protocol: responses
    models: [{ id: m }]
models:
  claude-then-local:
    endpoints:
      - { provider: msgsrc, service_id: claude-sonnet-4-5 }
      - { provider: chatsrc, service_id: m }
`,
  });
  anthropic = new Anthropic({ apiKey: "client-key", baseURL: bitrouter.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: "client-key", baseURL: `${bitrouter.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  expect(await bitrouter.stop()).toBe(0);
  for (const f of [chatsrc, msgsrc, respsrc]) f.stop();
});
beforeEach(() => {
  for (const f of [chatsrc, msgsrc, respsrc]) f.reset();
});

const say = (content: string) => [{ role: "user" as const, content }];

describe("failover across protocols", () => {
  test("a Messages source answering 529 fails over to a Chat source; the Anthropic client gets one correct stream", async () => {
    msgsrc.mode = "status:529";
    const message = await anthropic.messages.stream({ model: "claude-then-local", max_tokens: 100, messages: say("hi") }).finalMessage();
    expect(message.content).toHaveLength(1);
    expect(message.content[0]).toMatchObject({ type: "text", text: "Hello from chatsrc." });
    expect(message.model).toBe("claude-then-local");
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    // 529 is retried once on the same source first.
    expect(msgsrc.requests("/v1/messages")).toHaveLength(2);
    expect(chatsrc.requests("/v1/chat/completions")[0]?.json).toMatchObject({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] });
  });

  test.each([
    ["sends an in-band overloaded error before any token", "error-before-token"],
    ["sends message_stop before any token", "done-before-token"],
    ["sends a content block that is null", "odd-before-token"],
  ])("the same, when the Messages source %s", async (_what, mode) => {
    msgsrc.mode = mode;
    const message = await anthropic.messages.stream({ model: "claude-then-local", max_tokens: 100, messages: say("hi") }).finalMessage();
    expect(message.content[0]).toMatchObject({ type: "text", text: "Hello from chatsrc." });
    expect(msgsrc.requests("/v1/messages")).toHaveLength(1);
  });

  test("an OpenAI client translated onto the same chain fails over the same way", async () => {
    msgsrc.mode = "odd-before-token";
    const completion = await openai.chat.completions.stream({ model: "claude-then-local", messages: say("hi") }).finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe("Hello from chatsrc.");
  });
});

describe("Messages pass-through", () => {
  test("bytes pass through; the source gets its own key and the client's betas, never the client's key", async () => {
    const message = await anthropic.messages
      .stream({ model: "msgsrc:claude-sonnet-4-5", max_tokens: 100, messages: say("hi #fake:thinking") }, { headers: { "anthropic-beta": "interleaved-thinking-2025-05-14", "anthropic-dangerous-direct-browser-access": "true" } })
      .finalMessage();
    // Thinking keeps its signature within Anthropic.
    expect(message.content[0]).toEqual({ type: "thinking", thinking: "Let me think about it.", signature: "sig-EqQBCkYIARgCIkB" });
    expect(message.content[1]).toMatchObject({ type: "text", text: "Hello from msgsrc." });
    expect(message.model).toBe("msgsrc:claude-sonnet-4-5");
    const sent = msgsrc.requests("/v1/messages")[0]!;
    expect(sent.headers["x-api-key"]).toBe("sk-ant-source-key");
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers["anthropic-beta"]).toBe("interleaved-thinking-2025-05-14");
    expect(sent.headers["anthropic-version"]).toBeTruthy();
  });

  test("Claude Code's shape: ?beta=true, x-api-key or Bearer, any anthropic-version", async () => {
    const shapes: Record<string, string>[] = [
      { "x-api-key": "k", "anthropic-version": "2023-06-01" },
      { authorization: "Bearer k", "anthropic-version": "2026-10-21" },
    ];
    for (const auth of shapes) {
      const response = await fetch(`${bitrouter.url}/v1/messages?beta=true`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ model: "msgsrc:m", max_tokens: 10, messages: say("hi"), stream: true }),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      // Every frame names its event.
      for (const frame of text.trim().split("\n\n")) expect(frame.startsWith("event: ")).toBe(true);
    }
  });

  test("cached tokens: Anthropic's input_tokens excludes them, Chat's prompt_tokens includes them", async () => {
    msgsrc.cacheRead = 5;
    const viaAnthropic = await anthropic.messages.create({ model: "msgsrc:m", max_tokens: 10, messages: say("hi") });
    expect(viaAnthropic.usage).toMatchObject({ input_tokens: 6, cache_read_input_tokens: 5, output_tokens: 7 });
    msgsrc.cacheRead = 5;
    const viaChat = await openai.chat.completions.stream({ model: "msgsrc:m", messages: say("hi"), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(viaChat.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 5 } });
    const viaResponses = await openai.responses.create({ model: "msgsrc:m", input: "hi" });
    expect(viaResponses.usage).toMatchObject({ input_tokens: 11, input_tokens_details: { cached_tokens: 5 }, output_tokens: 7 });
  });
});

describe("reasoning and refusals across protocols", () => {
  test("Chat reasoning reaches a Responses client as a reasoning summary", async () => {
    const response = await openai.responses.stream({ model: "chatsrc:m", input: "#fake:thinking" }).finalResponse();
    expect(response.status).toBe("completed");
    const reasoning = response.output.find((o) => o.type === "reasoning");
    expect(reasoning?.type === "reasoning" ? reasoning.summary : []).toEqual([{ type: "summary_text", text: "Let me think about it." }]);
    expect(response.output_text).toBe("Hello from chatsrc.");
  });

  test("signed thinking from a Messages source reaches a Chat client as reasoning_content (the signature stays behind)", async () => {
    // The openai SDK keeps only the last value of fields it does not know, so read the deltas.
    const chunks = [];
    for await (const chunk of await openai.chat.completions.create({ model: "msgsrc:m", messages: say("#fake:thinking"), stream: true })) chunks.push(chunk);
    const deltas = chunks.map((c) => c.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined);
    expect(deltas.map((d) => d?.reasoning_content ?? "").join("")).toBe("Let me think about it.");
    expect(deltas.map((d) => d?.content ?? "").join("")).toBe("Hello from msgsrc.");
    expect(JSON.stringify(chunks)).not.toContain("sig-EqQBCkYIARgCIkB");
    const completion = await openai.chat.completions.create({ model: "msgsrc:m", messages: say("#fake:thinking") });
    expect((completion.choices[0]!.message as { reasoning_content?: string }).reasoning_content).toBe("Let me think about it.");
  });

  test("unsigned reasoning from a Chat source is not sent to an Anthropic client", async () => {
    const message = await anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, messages: say("#fake:thinking") }).finalMessage();
    expect(message.content.map((b) => b.type)).toEqual(["text"]);
  });

  test("a Chat refusal becomes Anthropic's refusal stop reason, and a Responses refusal part", async () => {
    const message = await anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, messages: say("#fake:refusal") }).finalMessage();
    expect(message.stop_reason).toBe("refusal");
    expect(message.content).toHaveLength(1);
    expect(message.content[0]).toMatchObject({ type: "text", text: "I can't help with that." });
    const response = await openai.responses.stream({ model: "chatsrc:m", input: "#fake:refusal" }).finalResponse();
    const item = response.output[0];
    expect(item?.type === "message" ? item.content : []).toMatchObject([{ type: "refusal", refusal: "I can't help with that." }]);
  });

  test("a length stop: Anthropic max_tokens, Responses incomplete", async () => {
    const message = await anthropic.messages.create({ model: "chatsrc:m", max_tokens: 100, messages: say("#fake:long") });
    expect(message.stop_reason).toBe("max_tokens");
    const response = await openai.responses.create({ model: "chatsrc:m", input: "#fake:long" });
    expect(response.status).toBe("incomplete");
  });
});

describe("request shaping across protocols", () => {
  test("a Responses source gets its own Bearer key, never the client's", async () => {
    await anthropic.messages.create({ model: "respsrc:m", max_tokens: 10, messages: say("hi") });
    const sent = respsrc.requests("/v1/responses")[0]!;
    expect(sent.headers.authorization).toBe("Bearer sk-resp-source-key");
    expect(sent.headers["x-api-key"]).toBeUndefined();
    expect(sent.json).toMatchObject({ model: "m", input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }], max_output_tokens: 10 });
  });

  test("Claude Code's thinking reaches a Chat source only for a model declared to reason", async () => {
    const body = { max_tokens: 100, messages: say("hi"), thinking: { type: "enabled" as const, budget_tokens: 4000 } };
    await anthropic.messages.create({ model: "chatsrc:m", ...body });
    await anthropic.messages.create({ model: "chatsrc:thinker", ...body });
    const [plain, thinker] = chatsrc.requests("/v1/chat/completions");
    expect(plain?.json).not.toHaveProperty("reasoning_effort");
    expect(thinker?.json).toMatchObject({ reasoning_effort: "medium", max_tokens: 100 });
  });
});

describe("errors in the caller's protocol", () => {
  test("an unknown model on /v1/messages is Anthropic's not_found_error", async () => {
    const response = await fetch(`${bitrouter.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "nope", max_tokens: 5, messages: say("hi") }) });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("not_found_error");
    expect(await anthropic.messages.create({ model: "nope", max_tokens: 5, messages: say("hi") }).catch((e) => e)).toBeInstanceOf(Anthropic.NotFoundError);
  });

  test("malformed JSON on /v1/messages is Anthropic's invalid_request_error; on /v1/responses OpenAI's", async () => {
    const messages = await fetch(`${bitrouter.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(messages.status).toBe(400);
    expect(((await messages.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const responses = await fetch(`${bitrouter.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(responses.status).toBe(400);
    expect(((await responses.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
  });

  test("a 400 from a Chat source reaches an Anthropic client as Anthropic's 400, with the source's message", async () => {
    chatsrc.mode = "status:400";
    const error = await anthropic.messages.create({ model: "chatsrc:m", max_tokens: 5, messages: say("hi") }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: "fake upstream says 400" } });
  });

  test("after the first token: Anthropic's event: error; Responses' error and response.failed", async () => {
    const viaAnthropic = await anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, messages: say("#fake:cut-after:2") }).finalMessage().catch((e) => e);
    expect(viaAnthropic).toBeInstanceOf(Anthropic.APIError);
    const raw = await fetch(`${bitrouter.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "chatsrc:m", input: "#fake:cut-after:2", stream: true }) });
    const text = await raw.text();
    expect(text).toContain("event: error\n");
    expect(text.trim().split("\n\n").at(-1)).toStartWith("event: response.failed\n");
    const viaOpenAI = await openai.responses.stream({ model: "chatsrc:m", input: "#fake:cut-after:2" }).finalResponse().catch((e) => e);
    expect(viaOpenAI).toBeInstanceOf(OpenAI.APIError);
  });

  test("a Responses source failing mid-stream reaches a Responses client as one response that failed", async () => {
    const raw = await fetch(`${bitrouter.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "respsrc:m", input: "#fake:cut-after:3", stream: true }) });
    const text = await raw.text();
    const ids = [...text.matchAll(/"response":\{"id":"([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(1);
    expect(text.trim().split("\n\n").at(-1)).toStartWith("event: response.failed\n");
  });

  test("a Messages stream that ends after message_delta without message_stop gets one", async () => {
    const message = await anthropic.messages.stream({ model: "msgsrc:m", max_tokens: 100, messages: say("#fake:no-done") }).finalMessage();
    expect(message.content[0]).toMatchObject({ text: "Hello from msgsrc." });
  });
});

describe("count_tokens", () => {
  test("forwarded to a Messages source", async () => {
    const counted = await anthropic.messages.countTokens({ model: "msgsrc:m", messages: say("hello there") });
    expect(counted.input_tokens).toBe(42);
    expect(msgsrc.requests("/v1/messages/count_tokens")[0]?.json).toMatchObject({ model: "m" });
  });

  test("estimated for any other source, and marked as an estimate", async () => {
    const response = await fetch(`${bitrouter.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "chatsrc:m", system: "You are terse.", messages: say("x".repeat(400)) }),
    });
    expect(response.headers.get("x-bitrouter-token-count")).toBe("estimate");
    const { input_tokens } = (await response.json()) as { input_tokens: number };
    expect(input_tokens).toBeGreaterThan(100);
    expect(input_tokens).toBeLessThan(120);
  });
});
