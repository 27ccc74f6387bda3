// The Gemini codec (issue #12, in progress): requests, answers and streams to and from the IR,
// with the failures peers report: signatures lost between turns, parallel function responses
// matched by position, random tool ids, empty text parts.
import { describe, expect, test } from "bun:test";
import type { Request } from "../../src/protocols/ir.ts";
import {
  decodeGeminiRequest,
  decodeGeminiResponse,
  encodeGeminiRequest,
  encodeGeminiResponse,
  GEMINI_SIGNATURE,
  geminiStreamDecoder,
  geminiStreamEncoder,
  readGeminiUsage,
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
