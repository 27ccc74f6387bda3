// The Gemini codec: requests, answers and streams to and from the IR, with the failures peers
// report: signatures lost between turns, parallel function responses matched by position,
// random tool ids, empty text parts. And the pure parts around it: RetryInfo, Google's model
// list, the google built-in's endpoints, the error envelope.
import { describe, expect, test } from "bun:test";
import { parseConfigText } from "../../src/config/load.ts";
import { BitRouterError } from "../../src/errors.ts";
import { GEMINI_SIGNATURE, type Request } from "../../src/protocols/ir.ts";
import { DIALECTS } from "../../src/protocols/dialects.ts";
import { geminiErrorBody, googleRetryDelay } from "../../src/protocols/gemini/errors.ts";
import { geminiSchema } from "../../src/protocols/gemini/schema.ts";
import { camelGeminiRequest } from "../../src/protocols/gemini/normalize.ts";
import type { Json } from "../../src/protocols/json.ts";
import { classifyStatus } from "../../src/routing/classify.ts";
import { readModelList } from "../../src/sources/discover.ts";
import { buildRegistry, inferProtocol } from "../../src/sources/registry.ts";
import {
  decodeGeminiRequest,
  decodeGeminiResponse,
  encodeGeminiRequest,
  encodeGeminiResponse,
  geminiStreamDecoder,
  geminiStreamEncoder,
  readGeminiUsage,
  UNKNOWN_SIGNATURE,
} from "../../src/protocols/gemini/codec.ts";

describe("Gemini requests → IR", () => {
  test("text, thoughts, images, calls without ids get stable ids, responses pair by id, else with the earliest open call of that name", () => {
    const body = {
      systemInstruction: { parts: [{ text: "Be terse." }] },
      contents: [
        { role: "user", parts: [{ text: "list both dirs" }, { inlineData: { mimeType: "image/png", data: "iVBOR" } }] },
        {
          role: "model",
          parts: [
            { text: "planning", thought: true },
            { functionCall: { name: "ls", args: { path: "a" } }, thoughtSignature: "SIG1" },
            { functionCall: { name: "ls", args: { path: "b" } } },
          ],
        },
        { role: "user", parts: [{ functionResponse: { name: "ls", response: { output: "b.txt" } } }, { functionResponse: { name: "ls", response: { output: "a.txt" } } }] },
      ],
      tools: [{ functionDeclarations: [{ name: "ls", description: "list", parametersJsonSchema: { type: "object", properties: { path: { type: "string" } } } }] }],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["ls"] } },
      generationConfig: { maxOutputTokens: 500, temperature: 0.2, stopSequences: ["END"], thinkingConfig: { thinkingBudget: 2048, includeThoughts: true } },
    };
    const ir = decodeGeminiRequest(body);
    expect(ir.system).toEqual([{ text: "Be terse." }]);
    expect(ir.messages[0]!.content).toEqual([{ type: "text", text: "list both dirs" }, { type: "image", source: { kind: "base64", mediaType: "image/png", data: "iVBOR" } }]);
    const calls = ir.messages[1]!.content.filter((p) => p.type === "tool_call") as { id: string }[];
    expect(ir.messages[1]!.content.slice(0, 2)).toEqual([{ type: "reasoning", text: "planning" }, { type: "reasoning", text: "", signature: `${GEMINI_SIGNATURE}SIG1` }]);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
    // The same request decoded again gives the same ids: the source's prompt cache sees the same text.
    expect((decodeGeminiRequest(body).messages[1]!.content.filter((p) => p.type === "tool_call") as { id: string }[]).map((c) => c.id)).toEqual(calls.map((c) => c.id));
    // Without ids, responses pair with the open calls of their name in order.
    expect(ir.messages[2]!.content.map((p) => (p.type === "tool_result" ? p.callId : ""))).toEqual([calls[0]!.id, calls[1]!.id]);
    expect(ir.tools).toEqual([{ name: "ls", description: "list", parameters: { type: "object", properties: { path: { type: "string" } } } }]);
    expect(ir).toMatchObject({ toolChoice: { type: "tool", name: "ls" }, maxTokens: 500, temperature: 0.2, stop: ["END"], reasoning: { budgetTokens: 2048 } });
  });

  test("parallel responses with ids pair by id, whatever their order", () => {
    const ir = decodeGeminiRequest({
      contents: [
        { role: "model", parts: [{ functionCall: { id: "c1", name: "read", args: {} } }, { functionCall: { id: "c2", name: "read", args: {} } }] },
        { role: "user", parts: [{ functionResponse: { id: "c2", name: "read", response: { output: "two" } } }, { functionResponse: { id: "c1", name: "read", response: { error: "no such file" } } }] },
      ],
    });
    expect(ir.messages[1]!.content).toEqual([
      { type: "tool_result", callId: "c2", content: [{ type: "text", text: "two" }] },
      { type: "tool_result", callId: "c1", content: [{ type: "text", text: "no such file" }], isError: true },
    ]);
  });
});

describe("IR → Gemini requests", () => {
  const ir: Request = {
    model: "gemini-2.5-pro",
    system: [{ text: "Be terse." }],
    messages: [
      { role: "user", content: [{ type: "text", text: "go" }, { type: "text", text: "  " }] },
      {
        role: "assistant",
        content: [
          { type: "reasoning", text: "thinking about it" },
          { type: "reasoning", text: "", signature: `${GEMINI_SIGNATURE}SIG-A` },
          { type: "tool_call", id: "toolu_1", name: "bash", arguments: '{"cmd":"ls"}' },
          { type: "reasoning", text: "", signature: "anthropic-signature-xyz" },
        ],
      },
      { role: "user", content: [{ type: "tool_result", callId: "toolu_1", content: [{ type: "text", text: "a.txt" }] }] },
    ],
    tools: [{ name: "bash", description: "run", parameters: { type: "object", properties: { cmd: { type: "string" } }, additionalProperties: false } }],
    toolChoice: { type: "auto" },
    maxTokens: 1000,
    reasoning: { effort: "high" },
    stream: true,
  };

  test("a Gemini signature rides on the call it came with; a foreign one never reaches Gemini; empty text is never sent; results name their call", () => {
    const body = encodeGeminiRequest(ir);
    expect(body.systemInstruction).toEqual({ parts: [{ text: "Be terse." }] });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "go" }] },
      {
        role: "model",
        parts: [
          { text: "thinking about it", thought: true },
          { functionCall: { id: "toolu_1", name: "bash", args: { cmd: "ls" } }, thoughtSignature: "SIG-A" },
        ],
      },
      { role: "user", parts: [{ functionResponse: { id: "toolu_1", name: "bash", response: { output: "a.txt" } } }] },
    ]);
    expect(body.tools).toEqual([{ functionDeclarations: [{ name: "bash", description: "run", parametersJsonSchema: ir.tools[0]!.parameters }] }]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "AUTO" } });
    expect(body.generationConfig).toEqual({ maxOutputTokens: 1000, thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } });
    expect(body).not.toHaveProperty("stream");
    expect(body).not.toHaveProperty("model");
  });
});

describe("Gemini answers and streams", () => {
  const answer = {
    candidates: [
      {
        content: { role: "model", parts: [{ text: "Let me look.", thought: true }, { functionCall: { name: "ls", args: { path: "." } }, thoughtSignature: "SIG-B" }] },
        finishReason: "STOP",
        index: 0,
      },
    ],
    usageMetadata: { promptTokenCount: 1200, cachedContentTokenCount: 1000, candidatesTokenCount: 30, thoughtsTokenCount: 70, totalTokenCount: 1300 },
    modelVersion: "gemini-2.5-pro",
    responseId: "resp-1",
  };

  test("a whole answer: thoughts, the signature before its call, a tool-call stop, usage in our reading (output includes thoughts)", () => {
    const ir = decodeGeminiResponse(answer);
    expect(ir.content.map((p) => p.type)).toEqual(["reasoning", "reasoning", "tool_call"]);
    expect(ir.content[1]).toEqual({ type: "reasoning", text: "", signature: `${GEMINI_SIGNATURE}SIG-B` });
    expect(ir.stopReason).toBe("tool_calls");
    expect(ir.usage).toEqual({ inputTokens: 1200, outputTokens: 100, cacheReadTokens: 1000, reasoningTokens: 70 });
    // …and back to a Gemini request, the signature is on the call again, unmarked.
    const next = encodeGeminiRequest({ model: "m", system: [], messages: [{ role: "assistant", content: ir.content }], tools: [], stream: false });
    expect((next.contents as { parts: object[] }[])[0]!.parts[1]).toMatchObject({ functionCall: { name: "ls" }, thoughtSignature: "SIG-B" });
    // For a Gemini client, the usage is Gemini's again.
    const encoded = encodeGeminiResponse(ir, { model: "gemini-2.5-pro", responseId: "r" });
    expect(encoded.usageMetadata).toEqual({ promptTokenCount: 1200, candidatesTokenCount: 30, totalTokenCount: 1300, cachedContentTokenCount: 1000, thoughtsTokenCount: 70 });
    expect(readGeminiUsage({ promptTokenCount: 5, candidatesTokenCount: 2 })).toEqual({ inputTokens: 5, outputTokens: 2 });
  });

  test("a stream: each data line a whole response; the finish carries usage; no finish, no done (a cut stream is not an answer)", () => {
    const decoder = geminiStreamDecoder();
    const chunks = [
      { candidates: [{ content: { role: "model", parts: [{ text: "Hel" }] }, index: 0 }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1, totalTokenCount: 11 } },
      { candidates: [{ content: { role: "model", parts: [{ text: "lo" }] }, index: 0 }] },
      { candidates: [{ content: { role: "model", parts: [{ text: "", thoughtSignature: "SIG-C" }] }, finishReason: "STOP", index: 0 }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 2, totalTokenCount: 12 } },
    ];
    const events = chunks.flatMap((c) => decoder.decode(undefined, JSON.stringify(c)));
    expect(events).toEqual([
      { type: "text", text: "Hel" },
      { type: "usage", usage: { inputTokens: 10, outputTokens: 1 } },
      { type: "text", text: "lo" },
      { type: "reasoning_signature", signature: `${GEMINI_SIGNATURE}SIG-C` },
      { type: "usage", usage: { inputTokens: 10, outputTokens: 2 } },
      { type: "finish", reason: "stop" },
      { type: "done" },
    ]);
    expect(geminiStreamDecoder().decode(undefined, "{oops")[0]).toMatchObject({ type: "error" });
    expect(geminiStreamDecoder().decode(undefined, JSON.stringify({ error: { code: 429, message: "Resource exhausted", status: "RESOURCE_EXHAUSTED" } }))).toEqual([{ type: "error", message: "Resource exhausted" }]);
  });

  test("to a Gemini client: text as it comes, a tool call whole once its arguments are complete, its signature on it, finish and usage last", () => {
    const encoder = geminiStreamEncoder({ model: "m", responseId: "r" });
    const out = [
      encoder.encode({ type: "text", text: "On it." }),
      encoder.encode({ type: "reasoning_signature", signature: `${GEMINI_SIGNATURE}SIG-D` }),
      // Another vendor's signature means nothing to Gemini: never sent.
      encoder.encode({ type: "reasoning_signature", signature: "anthropic-sig" }),
      encoder.encode({ type: "tool_call", index: 0, id: "call_1", name: "ls", arguments: '{"pa' }),
      encoder.encode({ type: "tool_call", index: 0, arguments: 'th":"."}' }),
      encoder.close("tool_calls", { inputTokens: 10, outputTokens: 5 }),
    ].join("");
    const frames = out
      .split("\r\n\r\n")
      .filter(Boolean)
      .map((f) => JSON.parse(f.replace(/^data: /, "")));
    expect(frames.map((f) => f.candidates[0].content.parts)).toEqual([[{ text: "On it." }], [{ functionCall: { id: "call_1", name: "ls", args: { path: "." } }, thoughtSignature: "SIG-D" }], []]);
    expect(frames.at(-1)).toMatchObject({ candidates: [{ finishReason: "STOP" }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 } });
  });
});

describe("signatures never cross to the wrong vendor", () => {
  test("a Gemini signature in Claude Code's history is not sent to an Anthropic source", async () => {
    const { encodeMessagesRequest } = await import("../../src/protocols/messages/codec.ts");
    const body = encodeMessagesRequest(
      {
        model: "claude-sonnet-4-5",
        system: [],
        messages: [
          { role: "user", content: [{ type: "text", text: "hi" }] },
          { role: "assistant", content: [{ type: "reasoning", text: "", signature: `${GEMINI_SIGNATURE}SIG` }, { type: "reasoning", text: "mine", signature: "EqQBCkY" }, { type: "text", text: "ok" }] },
          { role: "user", content: [{ type: "text", text: "more" }] },
        ],
        tools: [],
        stream: false,
      },
      { model: "claude-sonnet-4-5", stream: false },
    );
    const assistant = (body.messages as { content: Record<string, unknown>[] }[])[1]!;
    expect(assistant.content).toEqual([{ type: "thinking", thinking: "mine", signature: "EqQBCkY" }, { type: "text", text: "ok" }]);
  });
});

describe("what Gemini needs that the other protocols do not", () => {
  const turn = (content: Request["messages"][number]["content"]): Request => ({ model: "", system: [], messages: [{ role: "user", content: [{ type: "text", text: "go" }] }, { role: "assistant", content }], tools: [], stream: false });

  test("a model turn's first call without a signature gets Google's stand-in; a real one is kept; later calls need none", () => {
    const parts = (ir: Request) => (encodeGeminiRequest(ir).contents as { parts: Record<string, unknown>[] }[])[1]!.parts;
    const calls = [
      { type: "tool_call" as const, id: "a", name: "f", arguments: "{}" },
      { type: "tool_call" as const, id: "b", name: "g", arguments: "{}" },
    ];
    expect(parts(turn(calls)).map((p) => p.thoughtSignature)).toEqual([UNKNOWN_SIGNATURE, undefined]);
    expect(parts(turn([{ type: "reasoning", text: "", signature: `${GEMINI_SIGNATURE}REAL` }, ...calls])).map((p) => p.thoughtSignature)).toEqual(["REAL", undefined]);
    // Anthropic's signature is not Gemini's: the stand-in goes instead.
    expect(parts(turn([{ type: "reasoning", text: "", signature: "anthropic-sig" }, ...calls]))[0]!.thoughtSignature).toBe(UNKNOWN_SIGNATURE);
  });

  test("snake_case spellings, as Google's curl examples write them", () => {
    const ir = decodeGeminiRequest(camelGeminiRequest({
      system_instruction: { parts: [{ text: "Be brief." }] },
      contents: [{ role: "user", parts: [{ inline_data: { mime_type: "image/png", data: "AAAA" } }, { text: "what is it?" }] }],
      generation_config: { max_output_tokens: 40, stop_sequences: ["END"] },
      tool_config: { function_calling_config: { mode: "NONE" } },
    }) as Json);
    expect(ir.system).toEqual([{ text: "Be brief." }]);
    expect(ir.messages[0]!.content[0]).toEqual({ type: "image", source: { kind: "base64", mediaType: "image/png", data: "AAAA" } });
    expect([ir.maxTokens, ir.stop, ir.toolChoice]).toEqual([40, ["END"], { type: "none" }]);
  });

  test("a prompt the source's filter blocked is a content-filter stop, whole or streamed", () => {
    const blocked = { promptFeedback: { blockReason: "SAFETY" }, usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } };
    expect(decodeGeminiResponse(blocked).stopReason).toBe("content_filter");
    expect(geminiStreamDecoder().decode(undefined, JSON.stringify(blocked)).slice(-2)).toEqual([{ type: "finish", reason: "content_filter" }, { type: "done" }]);
    expect(geminiStreamDecoder().decode(undefined, JSON.stringify({ candidates: [null] }))[0]).toMatchObject({ type: "error" });
  });

  test("RetryInfo's retryDelay is a Retry-After; anything else is not", () => {
    const body = (delay: unknown) => JSON.stringify({ error: { code: 429, status: "RESOURCE_EXHAUSTED", details: [{ "@type": "type.googleapis.com/google.rpc.QuotaFailure" }, { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: delay }] } });
    expect(googleRetryDelay(body("34.4s"))).toBe(34_400);
    expect(googleRetryDelay(body("2s"))).toBe(2_000);
    // A Retry-After of its own: capped at a day like the header.
    expect(classifyStatus(429, new Headers(), 1000, body("9999999s")).retryAfterMs).toBe(86_400_000);
    expect(classifyStatus(429, new Headers({ "retry-after": "3" }), 1000, body("34.4s")).retryAfterMs).toBe(3000);
    for (const odd of ["soon", "-1s", 5, null]) expect(googleRetryDelay(body(odd))).toBeUndefined();
    expect(googleRetryDelay("RetryInfo, not JSON")).toBeUndefined();
  });

  test("Google's model list is read, keeping the models that generate content", () => {
    expect(
      readModelList({
        models: [
          { name: "models/gemini-2.5-pro", inputTokenLimit: 1048576, supportedGenerationMethods: ["generateContent", "countTokens"] },
          { name: "models/text-embedding-004", supportedGenerationMethods: ["embedContent"] },
          { name: 7 },
        ],
        nextPageToken: "x",
      }),
    ).toEqual([{ id: "gemini-2.5-pro", upstreamId: "gemini-2.5-pro", contextLength: 1048576 }]);
  });

  test("the google built-in speaks Gemini natively; a declared chat_completions takes its OpenAI-compatible endpoint", () => {
    const build = (yaml: string) => buildRegistry({ ...parseConfigText(yaml, "bitrouter.yaml", {}), path: "bitrouter.yaml" }, { GEMINI_API_KEY: "AIza-x" }).sources.get("google")!;
    const native = build("providers:\n  google: {}\n");
    expect([native.apiBase, native.protocolRules[0]!.protocols]).toEqual(["https://generativelanguage.googleapis.com/v1beta", ["generate_content"]]);
    const compatible = build("providers:\n  google:\n    api_protocol: chat_completions\n");
    expect(compatible.apiBase).toBe("https://generativelanguage.googleapis.com/v1beta/openai");
    expect(inferProtocol("https://generativelanguage.googleapis.com/v1beta")).toBe("generate_content");
    expect(inferProtocol("https://generativelanguage.googleapis.com/v1beta/openai")).toBe("chat_completions");
  });

  test("errors in Google's envelope: the code, its status name, BitRouter's reason in an ErrorInfo", () => {
    expect(geminiErrorBody(new BitRouterError(404, "not_found_error", "no model 'x'", { code: "model_not_found" }))).toEqual({
      error: { code: 404, message: "no model 'x'", status: "NOT_FOUND", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "model_not_found", domain: "bitrouter", metadata: {} }] },
    });
    expect(geminiErrorBody(new BitRouterError(429, "rate_limit_error", "slow down")).error.status).toBe("RESOURCE_EXHAUSTED");
    expect(geminiErrorBody(new BitRouterError(529, "upstream_error", "overloaded")).error.status).toBe("UNAVAILABLE");
  });
});

test("the schema cleaner: Gemini's subset kept, the rest spelt its way or left out; a recursive type ends", () => {
  const tree = { $ref: "#/definitions/node", definitions: { node: { type: "object", properties: { child: { $ref: "#/definitions/node" } }, patternProperties: { x: {} } } } };
  let depth = 0;
  for (let node = geminiSchema(tree) as Record<string, unknown>; node.properties; node = (node.properties as { child: Record<string, unknown> }).child) depth++;
  expect(depth).toBe(8);
  expect(geminiSchema({ oneOf: [{ type: "string" }, { type: "integer", exclusiveMinimum: 0 }], examples: [1] })).toEqual({ anyOf: [{ type: "string" }, { type: "integer", minimum: 0 }] });
  expect(geminiSchema({ allOf: [{ type: "object", properties: { a: { type: "string" } }, required: ["a"] }, { properties: { b: { type: "number" } } }] })).toEqual({ type: "object", properties: { a: { type: "string" }, b: { type: "number" } }, required: ["a"] });
  expect(geminiSchema("not a schema")).toEqual({});
});

test("a response without an id never takes a call that a later response claims by id", () => {
  const ir = decodeGeminiRequest({
    contents: [
      { role: "model", parts: [{ functionCall: { id: "functions.Bash:0", name: "Bash", args: { c: "a" } } }, { functionCall: { name: "Bash", args: { c: "b" } } }] },
      { role: "user", parts: [{ functionResponse: { name: "Bash", response: { output: "r2" } } }, { functionResponse: { id: "functions.Bash:0", name: "Bash", response: { error: "r1" } } }] },
    ],
  });
  const callIds = ir.messages[0]!.content.map((p) => (p as { id: string }).id);
  const resultIds = ir.messages[1]!.content.map((p) => (p as { callId: string }).callId);
  expect(resultIds).toEqual([callIds[1]!, "functions.Bash:0"]);
  // A bare string where an object belongs is the result's text, not "{}".
  const plain = decodeGeminiRequest({ contents: [{ role: "user", parts: [{ functionResponse: { name: "f", response: "done" } }] }] });
  expect(plain.messages[0]!.content[0]).toMatchObject({ type: "tool_result", content: [{ type: "text", text: "done" }] });
});

test("call ids a Gemini client gets are never empty, and new in every answer", () => {
  const answer = (responseId: string) =>
    encodeGeminiResponse(
      { id: "x", content: [{ type: "tool_call", id: "", name: "f", arguments: "{}" }, { type: "tool_call", id: "", name: "f", arguments: "{}" }], stopReason: "tool_calls", usage: null },
      { model: "m", responseId },
    ) as { candidates: { content: { parts: { functionCall: { id: string } }[] } }[] };
  const ids = (r: string) => answer(r).candidates[0]!.content.parts.map((p) => p.functionCall.id);
  const [a, b] = [ids("r1"), ids("r2")];
  expect(new Set([...a, ...b]).size).toBe(4);
  for (const id of a) expect(id).toMatch(/^call_\w+$/);
  const first = (r: string) => {
    const encoder = geminiStreamEncoder({ model: "m", responseId: r });
    encoder.encode({ type: "tool_call", index: 0, name: "f", arguments: "{}" });
    return /"id":"(call_\w+)"/.exec(encoder.close("tool_calls", null))![1];
  };
  expect(first("r1")).not.toBe(first("r2"));
  // A blank id sent back is no id: it gets a real one.
  const ir = decodeGeminiRequest({ contents: [{ role: "model", parts: [{ functionCall: { id: "", name: "f", args: {} } }] }, { role: "user", parts: [{ functionResponse: { id: "", name: "f", response: {} } }] }] });
  const call = ir.messages[0]!.content[0] as { id: string };
  expect(call.id).toMatch(/^call_/);
  expect((ir.messages[1]!.content[0] as { callId: string }).callId).toBe(call.id);
});

test("a stream chunk that leaves a count out does not reset it", () => {
  const decoder = geminiStreamDecoder();
  const usage = (meta: object) => decoder.decode(undefined, JSON.stringify({ candidates: [{ content: { parts: [{ text: "x" }] } }], usageMetadata: meta })).find((e) => e.type === "usage");
  expect(usage({ promptTokenCount: 100 })).toEqual({ type: "usage", usage: { inputTokens: 100 } });
  expect(usage({ candidatesTokenCount: 5 })).toEqual({ type: "usage", usage: { outputTokens: 5 } });
});

test("a config written when google meant its OpenAI-compatible endpoint keeps speaking Chat there", () => {
  const google = buildRegistry({ ...parseConfigText("providers:\n  google:\n    api_base: https://generativelanguage.googleapis.com/v1beta/openai/\n", "bitrouter.yaml", {}), path: "bitrouter.yaml" }, { GEMINI_API_KEY: "k" }).sources.get("google")!;
  expect(google.protocolRules[0]!.protocols).toEqual(["chat_completions"]);
});

test("a user turn's text parts reach a Chat source apart, not glued (gemini-cli's context part, Claude Code's reminders)", () => {
  const chat = DIALECTS.chat_completions;
  const fromGemini = chat.encodeRequest(decodeGeminiRequest({ contents: [{ role: "user", parts: [{ text: "<session_context>cwd</session_context>" }, { text: "Say hello" }] }] }), { model: "m", stream: false });
  expect(fromGemini.messages).toEqual([{ role: "user", content: "<session_context>cwd</session_context>\n\nSay hello" }]);
  const fromClaude = chat.encodeRequest(DIALECTS.messages.decodeRequest({ model: "x", max_tokens: 9, messages: [{ role: "user", content: [{ type: "text", text: "<system-reminder>r</system-reminder>" }, { type: "text", text: "" }, { type: "text", text: "fix it" }] }] }), { model: "m", stream: false });
  expect(fromClaude.messages).toEqual([{ role: "user", content: "<system-reminder>r</system-reminder>\n\nfix it" }]);
});
