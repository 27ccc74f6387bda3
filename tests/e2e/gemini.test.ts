// Gemini in and out (SPEC §18), beyond the 4 × 4 matrix: thought signatures across turns from
// every client protocol onto a Gemini source that refuses a call without the signature it
// issued; function responses paired by id; the Gemini routes' auth, errors, model list and
// countTokens; a cut stream ending with an error the client sees; failover off a Gemini source
// and its RetryInfo read as a Retry-After.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI, Type } from "@google/genai";
import OpenAI from "openai";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { PER_REQUEST_FAILOVER } from "../support/config.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let gemini: FakeUpstream;
let chat: FakeUpstream;
let messages: FakeUpstream;
let bitrouter: RunningBitRouter;
let secured: RunningBitRouter;

const WEATHER = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
const TIME = { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] };

beforeAll(async () => {
  gemini = await startFakeUpstream("gemini");
  chat = await startFakeUpstream("chatsrc");
  messages = await startFakeUpstream("msgsrc");
  gemini.models = ["gemini-3-pro-preview"];
  const providers = `
providers:
  gem:
    api_base: ${gemini.baseUrl}
    api_key: AIza-source-key
    api_protocol: generate_content
    models: [{ id: g, capabilities: [reasoning] }]
  chatsrc:
    api_base: ${chat.baseUrl}
    models: [{ id: c }]
  respsrc:
    api_base: ${chat.baseUrl}
    api_protocol: responses
    models: [{ id: r }]
  gproxy:
    api_base: ${chat.baseUrl}
    models: [{ id: gp, compatibility: { chat_completions: { tool_schema: gemini } } }]
  msgsrc:
    api_base: ${messages.baseUrl}
    api_key: sk-ant-source
    api_protocol: messages
    models: [{ id: a }]
models:
  gemini-then-chat:
    endpoints:
      - { provider: gem, service_id: g }
      - { provider: chatsrc, service_id: c }
`;
  bitrouter = await startBitRouter({ config: `${PER_REQUEST_FAILOVER}upstream:\n  timeouts:\n    read_secs: 2\n  max_retry_wait_secs: 1\n${providers}` });
  secured = await startBitRouter({ config: `server:\n  api_keys: [br-secret-key]\n  skip_auth: false\n${providers}` });
});
afterAll(async () => {
  expect(await bitrouter.stop()).toBe(0);
  expect(await secured.stop()).toBe(0);
  for (const f of [gemini, chat, messages]) f.stop();
});
beforeEach(() => {
  for (const f of [gemini, chat, messages]) f.reset();
});

/** The Gemini request body the fake source received last. */
function sentToGemini(): { contents: { role: string; parts: Record<string, unknown>[] }[] } {
  const entry = gemini.journal.filter((j) => j.method === "POST").at(-1);
  if (!entry?.json) throw new Error("the Gemini source received no request");
  return entry.json as never;
}

function firstCallSignature(): unknown {
  const model = sentToGemini().contents.find((c) => c.role === "model");
  return model?.parts.find((p) => p.functionCall !== undefined)?.thoughtSignature;
}

describe("thought signatures survive a round trip through every client protocol", () => {
  test("Claude Code's protocol: thinking and a tool call, then the next turn, streamed", async () => {
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: bitrouter.url, maxRetries: 0 });
    const tools = [
      { name: "get_weather", input_schema: WEATHER as Anthropic.Tool.InputSchema },
      { name: "get_time", input_schema: TIME as Anthropic.Tool.InputSchema },
    ];
    const first = await anthropic.messages
      .stream({ model: "gem:g", max_tokens: 1024, thinking: { type: "enabled", budget_tokens: 2048 }, tools, messages: [{ role: "user", content: "Weather and time in Paris? #fake:tools" }] })
      .finalMessage();
    expect(first.stop_reason).toBe("tool_use");
    // The signature Gemini put on its first call arrives in Anthropic's own slot, marked as Gemini's.
    const thinking = first.content.find((b) => b.type === "thinking");
    expect(thinking?.type === "thinking" && thinking.signature).toMatch(/^gemini:Cs/);
    const calls = first.content.filter((b) => b.type === "tool_use");
    expect(calls.map((c) => c.name)).toEqual(["get_weather", "get_time"]);
    const issued = (thinking as Anthropic.ThinkingBlock).signature.slice("gemini:".length);
    expect(gemini.issuedSignatures.has(issued)).toBe(true);

    const second = await anthropic.messages
      .stream({
        model: "gem:g",
        max_tokens: 1024,
        thinking: { type: "enabled", budget_tokens: 2048 },
        tools,
        messages: [
          { role: "user", content: "Weather and time in Paris? #fake:tools" },
          { role: "assistant", content: first.content },
          // Results in the opposite order: they are matched by id.
          { role: "user", content: [...calls].reverse().map((c) => ({ type: "tool_result" as const, tool_use_id: c.id, content: c.name === "get_weather" ? "Sunny" : "12:00" })) },
        ],
      })
      .finalMessage();
    expect(second.content.find((b) => b.type === "text")).toMatchObject({ text: "Hello from gemini." });
    // The source saw its own signature on its own call, and each result under its call's name.
    expect(firstCallSignature()).toBe(issued);
    const results = sentToGemini().contents.at(-1)!.parts.map((p) => p.functionResponse as { id: string; name: string; response: { output: string } });
    const ids = Object.fromEntries(calls.map((c) => [c.id, c.name]));
    expect(results.map((r) => [ids[r.id], r.name, r.response.output])).toEqual([
      ["get_time", "get_time", "12:00"],
      ["get_weather", "get_weather", "Sunny"],
    ]);
  });

  test("Claude Code's protocol, not streamed: the signature closes a thinking block with the thoughts", async () => {
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: bitrouter.url, maxRetries: 0 });
    const tools = [{ name: "get_weather", input_schema: WEATHER as Anthropic.Tool.InputSchema }, { name: "get_time", input_schema: TIME as Anthropic.Tool.InputSchema }];
    const first = await anthropic.messages.create({ model: "gem:g", max_tokens: 1024, tools, messages: [{ role: "user", content: "Weather and time? #fake:tools" }] });
    expect(first.content.map((b) => b.type)).toEqual(["thinking", "tool_use", "tool_use"]);
    const signature = (first.content[0] as Anthropic.ThinkingBlock).signature;
    expect(gemini.issuedSignatures.has(signature.replace(/^gemini:/, ""))).toBe(true);
    const calls = first.content.filter((b) => b.type === "tool_use");
    await anthropic.messages.create({
      model: "gem:g",
      max_tokens: 1024,
      tools,
      messages: [
        { role: "user", content: "Weather and time? #fake:tools" },
        { role: "assistant", content: first.content },
        { role: "user", content: calls.map((c) => ({ type: "tool_result" as const, tool_use_id: c.id, content: "ok" })) },
      ],
    });
    expect(firstCallSignature()).toBe(signature.replace(/^gemini:/, ""));
  });

  test("a Gemini source's calls get new ids in every answer (Anthropic refuses a history with one id twice)", async () => {
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: bitrouter.url, maxRetries: 0 });
    const ask = async () => (await anthropic.messages.create({ model: "gem:g", max_tokens: 100, tools: [{ name: "get_weather", input_schema: WEATHER as Anthropic.Tool.InputSchema }], messages: [{ role: "user", content: "#fake:tools" }] })).content.filter((b) => b.type === "tool_use").map((b) => b.id);
    const [a, b] = [await ask(), await ask()];
    expect(new Set([...a, ...b]).size).toBe(4);
  });

  test("once the conversation moves on from Gemini, its signatures stay behind: a Messages or Responses source never sees them", async () => {
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: bitrouter.url, maxRetries: 0 });
    await anthropic.messages.create({
      model: "msgsrc:a",
      max_tokens: 100,
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "gemini:GEMSIG" }, { type: "thinking", thinking: "mine", signature: "anthropic-own" }, { type: "text", text: "hello" }] },
        { role: "user", content: "again" },
      ],
    });
    const sent = messages.journal.at(-1)!;
    expect(sent.body).not.toContain("GEMSIG");
    expect(sent.body).toContain("anthropic-own");
    const openai = new OpenAI({ apiKey: "client-key", baseURL: `${bitrouter.url}/v1`, maxRetries: 0 });
    await openai.responses.create({
      model: "respsrc:r",
      input: [
        { role: "user", content: "hi" },
        { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gemini:GEMSIG" },
        { type: "reasoning", id: "rs_2", summary: [], encrypted_content: "openai-own" },
        { role: "user", content: "again" },
      ],
    });
    const toResponses = chat.journal.at(-1)!;
    expect(toResponses.path).toBe("/v1/responses");
    expect(toResponses.body).not.toContain("GEMSIG");
    expect(toResponses.body).toContain("openai-own");
  });

  test("Codex's protocol: the signature rides in encrypted_content and comes back", async () => {
    const openai = new OpenAI({ apiKey: "client-key", baseURL: `${bitrouter.url}/v1`, maxRetries: 0 });
    const tools = [
      { type: "function" as const, name: "get_weather", parameters: WEATHER, strict: false },
      { type: "function" as const, name: "get_time", parameters: TIME, strict: false },
    ];
    const first = await openai.responses.stream({ model: "gem:g", input: "Weather and time? #fake:tools", tools, include: ["reasoning.encrypted_content"], store: false }).finalResponse();
    expect(first.status).toBe("completed");
    const sealed = first.output.find((o) => o.type === "reasoning");
    expect(sealed?.type === "reasoning" && sealed.encrypted_content).toMatch(/^gemini:Cs/);
    const calls = (first.output as OpenAI.Responses.ResponseOutputItem[]).filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
    expect(calls).toHaveLength(2);

    const second = await openai.responses.create({
      model: "gem:g",
      tools,
      store: false,
      input: [
        { role: "user", content: "Weather and time? #fake:tools" },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        ...calls.map((c) => ({ type: "function_call_output" as const, call_id: c.call_id, output: c.name === "get_weather" ? "Sunny" : "12:00" })),
      ],
    });
    expect(second.output_text).toBe("Hello from gemini.");
    expect(firstCallSignature()).toBe((sealed as { encrypted_content: string }).encrypted_content.slice("gemini:".length));
  });

  test("a client with no slot for it (Chat) gets Google's stand-in on the next turn, not a 400", async () => {
    const openai = new OpenAI({ apiKey: "client-key", baseURL: `${bitrouter.url}/v1`, maxRetries: 0 });
    const completion = await openai.chat.completions.create({
      model: "gem:g",
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "Sunny" },
      ],
      tools: [{ type: "function", function: { name: "get_weather", parameters: WEATHER } }],
    });
    expect(completion.choices[0]?.message.content).toBe("Hello from gemini.");
    expect(firstCallSignature()).toBe("skip_thought_signature_validator");
  });

  test("the fake refuses a call without the signature it issued, as Gemini does; BitRouter surfaces it", async () => {
    // A Gemini client straight to a Gemini source: the body passes through, so the refusal is the source's own.
    const response = await fetch(`${bitrouter.url}/v1beta/models/gem:g:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-goog-api-key": "client-key" },
      body: JSON.stringify({
        contents: [
          { role: "user", parts: [{ text: "Weather?" }] },
          { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } }, thoughtSignature: "forged" }] },
          { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "Sunny" } } }] },
        ],
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: number; status: string; message: string } };
    expect(body.error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    expect(body.error.message).toContain("thought_signature");
    // A 400 is the request's own fault: no other source was tried.
    expect(chat.journal).toHaveLength(0);
  });
});

describe("a Gemini client on any source", () => {
  test("a history with a call another model wrote (no signature) reaches a Gemini source with Google's stand-in", async () => {
    const response = await fetch(`${bitrouter.url}/v1beta/models/gem:g:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        contents: [
          { role: "user", parts: [{ text: "Weather?" }] },
          { role: "model", parts: [{ functionCall: { id: "c1", name: "get_weather", args: { city: "Paris" } } }] },
          { role: "user", parts: [{ functionResponse: { id: "c1", name: "get_weather", response: { output: "Sunny" } } }] },
        ],
      }),
    });
    expect(response.status).toBe(200);
    expect(firstCallSignature()).toBe("skip_thought_signature_validator");
  });

  test("Google's own schema style (types in capitals, nullable) reaches other sources as JSON Schema", async () => {
    const result = await new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: bitrouter.url } }).models.generateContent({
      model: "chatsrc:c",
      contents: "hi",
      config: { tools: [{ functionDeclarations: [{ name: "get_weather", parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING, nullable: true }, days: { type: Type.ARRAY, items: { type: Type.INTEGER } } }, required: ["city"] } }] }] },
    });
    expect(result.text).toBe("Hello from chatsrc.");
    const sent = chat.journal.at(-1)!.json as { tools: { function: { parameters: unknown } }[] };
    expect(sent.tools[0]!.function.parameters).toEqual({ type: "object", properties: { city: { type: ["string", "null"] }, days: { type: "array", items: { type: "integer" } } }, required: ["city"] });
  });

  const genai = () => new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: bitrouter.url, apiVersion: "v1beta" } });

  test("parallel function responses from a Gemini client reach a Messages source paired by id, not by position", async () => {
    const result = await genai().models.generateContent({
      model: "msgsrc:a",
      contents: [
        { role: "user", parts: [{ text: "Weather and time?" }] },
        {
          role: "model",
          parts: [
            { functionCall: { id: "fc-w", name: "get_weather", args: { city: "Paris" } } },
            { functionCall: { id: "fc-t", name: "get_time", args: { tz: "Europe/Paris" } } },
          ],
        },
        {
          role: "user",
          parts: [
            { functionResponse: { id: "fc-t", name: "get_time", response: { output: "12:00" } } },
            { functionResponse: { id: "fc-w", name: "get_weather", response: { output: "Sunny" } } },
          ],
        },
      ],
    });
    expect(result.text).toBe("Hello from msgsrc.");
    const sent = messages.journal.at(-1)!.json as { messages: { role: string; content: Record<string, unknown>[] }[] };
    expect(sent.messages[1]!.content.map((b) => b.id)).toEqual(["fc-w", "fc-t"]);
    expect(sent.messages[2]!.content.map((b) => [b.tool_use_id, b.content])).toEqual([
      ["fc-t", [{ type: "text", text: "12:00" }]],
      ["fc-w", [{ type: "text", text: "Sunny" }]],
    ]);
  });

  test("calls without ids get the same ids on every turn (the source's prompt cache keeps hitting)", async () => {
    const body = {
      contents: [
        { role: "user", parts: [{ text: "Weather?" }] },
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { output: "Sunny" } } }] },
      ],
    };
    const ids: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${bitrouter.url}/v1beta/models/msgsrc:a:generateContent`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      const sent = messages.journal.at(-1)!.json as { messages: { content: Record<string, unknown>[] }[] };
      ids.push([sent.messages[1]!.content[0]!.id, sent.messages[2]!.content[0]!.tool_use_id]);
    }
    expect(ids[0]).toEqual(ids[1]);
    const [call, result] = ids[0] as string[];
    expect(call).toBe(result);
  });

  test("snake_case fields, as Google's curl examples write them, are read", async () => {
    const response = await fetch(`${bitrouter.url}/v1beta/models/chatsrc:c:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ system_instruction: { parts: [{ text: "Be brief." }] }, contents: [{ parts: [{ text: "hi" }] }], generation_config: { max_output_tokens: 50 } }),
    });
    expect(response.status).toBe(200);
    expect(chat.journal.at(-1)!.json).toMatchObject({ messages: [{ role: "system", content: "Be brief." }, { role: "user" }], max_tokens: 50 });
  });

  test("a stream cut after its first tokens ends with an error chunk, which @google/genai raises", async () => {
    let text = "";
    const error = await (async () => {
      for await (const chunk of await genai().models.generateContentStream({ model: "chatsrc:c", contents: "hi #fake:cut-after:2" })) text += chunk.text ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe("Hello from ");
    expect(String(error)).toContain("the stream failed after it started");
  });

  test("the raw stream: one whole response per data line, the error as Google's envelope", async () => {
    const response = await fetch(`${bitrouter.url}/v1beta/models/gem:g:streamGenerateContent?alt=sse`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi #fake:error-after:2" }] }] }) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const frames = (await response.text()).split(/\r?\n\r?\n/).filter((f) => f.startsWith("data: ")).map((f) => JSON.parse(f.slice(6)));
    expect(frames.slice(0, 2).map((f) => f.candidates[0].content.parts[0].text)).toEqual(["Hello", " from "]);
    expect(frames.at(-1)).toMatchObject({ error: { code: 502, status: "UNAVAILABLE", message: expect.stringContaining("the GPU fell over") } });
  });

  test("a Gemini source that fails before its first token is left for the next source", async () => {
    for (const scenario of ["status:503", "error-before-token", "malformed-before-token", "odd-before-token"]) {
      gemini.reset();
      chat.reset();
      gemini.mode = scenario;
      const result = await genai().models.generateContentStream({ model: "gemini-then-chat", contents: "hi" });
      let text = "";
      for await (const chunk of result) text += chunk.text ?? "";
      expect({ scenario, text }).toEqual({ scenario, text: "Hello from chatsrc." });
      expect(gemini.journal.length).toBeGreaterThan(0);
    }
  });

  test("a 2xx body that is no answer ({}, another shape) moves the chain on across protocols too", async () => {
    for (const body of [{}, { candidates: [] }, "just a string"]) {
      gemini.reset();
      chat.reset();
      gemini.script = { json: body };
      const response = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gemini-then-chat", messages: [{ role: "user", content: "hi" }] }) });
      expect(response.headers.get("x-bitrouter-provider")).toBe("chatsrc");
      expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("Hello from chatsrc.");
    }
    gemini.reset();
    // And the other way: a Chat source's `{}` to a Gemini client, the Gemini source next in its list.
    chat.script = { json: {} };
    const toGemini = await fetch(`${bitrouter.url}/v1beta/models/chatsrc:c:generateContent`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }], models: ["gem:g"] }) });
    expect(toGemini.headers.get("x-bitrouter-provider")).toBe("gem");
    chat.reset();
  });

  test("Gemini's RetryInfo is its Retry-After, and a Gemini client gets one back", async () => {
    const response = await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gem:g", messages: [{ role: "user", content: "hi #fake:status:429" }] }) });
    expect(response.status).toBe(429);
    // 34.4 s, longer than max_retry_wait_secs: not waited for, passed on rounded up.
    expect(response.headers.get("retry-after")).toBe("35");
    expect(gemini.journal).toHaveLength(1);
    // A 429 from a Chat source to a Gemini client: gemini-cli reads RetryInfo, not the header.
    const toGemini = await fetch(`${bitrouter.url}/v1beta/models/chatsrc:c:generateContent`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ parts: [{ text: "hi #fake:status:429:retry-after=7" }] }] }) });
    expect(toGemini.status).toBe(429);
    const body = (await toGemini.json()) as { error: { status: string; details: Record<string, unknown>[] } };
    expect(body.error.status).toBe("RESOURCE_EXHAUSTED");
    expect(body.error.details).toContainEqual({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" });
  });
});

describe("tool schemas Gemini's parameters field would refuse", () => {
  const schema = {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    additionalProperties: false,
    properties: { mode: { const: "fast" }, where: { $ref: "#/$defs/place" }, note: { type: ["string", "null"] } },
    required: ["mode", "where", "ghost"],
    $defs: { place: { type: "object", properties: { city: { type: "string" } }, propertyNames: { pattern: "^[a-z]+$" } } },
  };
  const ask = (model: string) =>
    fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "go", parameters: schema } }] }) });

  test("a Chat source declared tool_schema: gemini (as Google's OpenAI-compatible host is by default) gets them cut to Gemini's subset", async () => {
    expect((await ask("gproxy:gp")).status).toBe(200);
    const sent = chat.journal.at(-1)!.json as { tools: { function: { parameters: unknown } }[] };
    expect(sent.tools[0]!.function.parameters).toEqual({
      type: "object",
      properties: { mode: { enum: ["fast"] }, where: { type: "object", properties: { city: { type: "string" } } }, note: { type: "string", nullable: true } },
      required: ["mode", "where"],
    });
  });

  test("any other source gets the client's schema as it was", async () => {
    expect((await ask("chatsrc:c")).status).toBe(200);
    expect((chat.journal.at(-1)!.json as { tools: { function: { parameters: unknown } }[] }).tools[0]!.function.parameters).toEqual(schema);
  });
});

describe("the Gemini routes", () => {
  const post = (server: RunningBitRouter, path: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...init.headers }, body: init.body ?? JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }) });

  test("auth: x-goog-api-key or ?key=, else 401 in Google's shape", async () => {
    const missing = await post(secured, "/v1beta/models/chatsrc:c:generateContent");
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED", message: expect.stringContaining("x-goog-api-key") } });
    const wrong = await post(secured, "/v1beta/models/chatsrc:c:generateContent", { headers: { "x-goog-api-key": "nope" } });
    expect(wrong.status).toBe(401);
    expect((await post(secured, "/v1beta/models/chatsrc:c:generateContent", { headers: { "x-goog-api-key": "br-secret-key" } })).status).toBe(200);
    expect((await post(secured, "/v1beta/models/chatsrc:c:generateContent?key=br-secret-key")).status).toBe(200);
    // ?key= is Google's URL form only: other routes keep keys out of their URLs.
    const chatWithQueryKey = await fetch(`${secured.url}/v1/chat/completions?key=br-secret-key`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "chatsrc:c", messages: [{ role: "user", content: "hi" }] }) });
    expect(chatWithQueryKey.status).toBe(401);
    // The client's key never reaches the source; the source's own does.
    const sent = chat.journal.at(-1)!;
    expect(JSON.stringify(sent.headers)).not.toContain("br-secret-key");
    await post(secured, "/v1beta/models/gem:g:generateContent?key=br-secret-key");
    expect(gemini.journal.at(-1)!.headers["x-goog-api-key"]).toBe("AIza-source-key");
    expect(gemini.journal.at(-1)!.path).toBe("/v1/models/g:generateContent");
  });

  test("bad requests get Google's envelope with a real status", async () => {
    const cases: [string, { headers?: Record<string, string>; body?: string }, number, string, string][] = [
      ["/v1beta/models/nosuch:generateContent", {}, 404, "NOT_FOUND", "nosuch"],
      ["/v1beta/models/chatsrc:c:generateContent", { body: "{not json" }, 400, "INVALID_ARGUMENT", "JSON"],
      ["/v1beta/models/chatsrc:c:generateContent", { body: JSON.stringify({ contents: [] }) }, 400, "INVALID_ARGUMENT", "contents"],
      ["/v1beta/models/chatsrc:c:streamGenerateContent", {}, 400, "INVALID_ARGUMENT", "alt=sse"],
      ["/v1beta/models/chatsrc:c:embedContent", {}, 404, "NOT_FOUND", "generateContent"],
      ["/v1beta/models/chatsrc:c:generateContent", { body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }], generationConfig: { candidateCount: 2 } }) }, 400, "INVALID_ARGUMENT", "several candidates"],
      ["/v1beta/models/chatsrc:c:generateContent", { body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }], generation_config: { candidate_count: 2 } }) }, 400, "INVALID_ARGUMENT", "several candidates"],
    ];
    for (const [path, init, status, name, words] of cases) {
      const response = await post(bitrouter, path, init);
      const body = (await response.json()) as { error: { code: number; status: string; message: string } };
      expect({ path, status: response.status, name: body.error.status }).toEqual({ path, status, name });
      expect(body.error.code).toBe(status);
      expect(body.error.message).toContain(words);
    }
  });

  test("models are listed in Google's shape; on /v1 only for a client that authenticates Google's way", async () => {
    const listed = (await (await fetch(`${bitrouter.url}/v1beta/models`)).json()) as { models: { name: string; supportedGenerationMethods: string[] }[] };
    expect(listed.models.map((m) => m.name)).toContain("models/g");
    expect(listed.models[0]!.supportedGenerationMethods).toContain("streamGenerateContent");
    const one = (await (await fetch(`${bitrouter.url}/v1beta/models/c`)).json()) as { name: string };
    expect(one.name).toBe("models/c");
    // What requests resolve, even when the list names it otherwise.
    expect(((await (await fetch(`${bitrouter.url}/v1beta/models/gem:g`)).json()) as { name: string }).name).toBe("models/gem:g");
    // @google/genai on /v1: a missing model in Google's envelope; ?key= read there too.
    const missing = await fetch(`${bitrouter.url}/v1/models/nope`, { headers: { "x-goog-api-key": "k" } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
    expect((await fetch(`${secured.url}/v1/models/c?key=br-secret-key`)).status).toBe(200);
    expect(await (await fetch(`${bitrouter.url}/v1/models/nope?key=k`)).json()).toMatchObject({ error: { status: "NOT_FOUND" } });
    // A Gemini client's model list and a wrong ?key= there: Google's envelope too.
    expect(await (await fetch(`${secured.url}/v1/models?key=bad`)).json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    expect((await fetch(`${secured.url}/v1/models/gem%3Ag%3AgenerateContent?key=br-secret-key`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] }) })).status).toBe(200);
    const google = (await (await fetch(`${bitrouter.url}/v1/models`, { headers: { "x-goog-api-key": "k" } })).json()) as { models?: unknown[] };
    expect(google.models).toBeDefined();
    const openai = (await (await fetch(`${bitrouter.url}/v1/models`)).json()) as { object?: string };
    expect(openai.object).toBe("list");
  });

  test("countTokens: forwarded to a Gemini source, estimated (and marked) for the others", async () => {
    const forwarded = await post(bitrouter, "/v1beta/models/gem:g:countTokens");
    expect(await forwarded.json()).toEqual({ totalTokens: 42 });
    expect(forwarded.headers.get("x-bitrouter-provider")).toBe("gem");
    expect(gemini.journal.at(-1)!.path).toBe("/v1/models/g:countTokens");
    const estimated = await post(bitrouter, "/v1beta/models/chatsrc:c:countTokens", { body: JSON.stringify({ generateContentRequest: { contents: [{ role: "user", parts: [{ text: "x".repeat(400) }] }] } }) });
    expect(estimated.headers.get("x-bitrouter-token-count")).toBe("estimate");
    expect(((await estimated.json()) as { totalTokens: number }).totalTokens).toBeGreaterThan(100);
    // Google's snake_case spelling, and BitRouter's own field kept from the source.
    const snake = await post(bitrouter, "/v1beta/models/gem:g:countTokens", { body: JSON.stringify({ generate_content_request: { contents: [{ parts: [{ text: "hi" }] }] }, models: ["x"] }) });
    expect(await snake.json()).toEqual({ totalTokens: 42 });
    expect(gemini.journal.at(-1)!.json).toEqual({ generateContentRequest: { contents: [{ parts: [{ text: "hi" }] }], model: "models/g" } });
    // A source's error that quotes the key it was sent reaches the client without it.
    gemini.mode = "echo-key";
    const refused = await post(bitrouter, "/v1beta/models/gem:g:countTokens");
    expect(refused.status).toBe(400);
    const text = await refused.text();
    expect(text).toContain("API key not valid");
    expect(text).not.toContain("AIza-source-key");
  });
});
