// Golden tests of the codecs: whole stream sequences translated in every direction among Chat
// Completions, Messages and Responses (text, parallel tool calls, thinking with signature,
// refusal, usage, a mid-stream error), whole JSON answers, and requests. The inputs are the
// fake sources' hand-written frames (tests/support/fake-protocols.ts, from the field-level facts
// of client-compat.md §2); the expected outputs are files under tests/unit/golden/.
// A missing or different golden file fails; UPDATE_GOLDEN=1 rewrites them (then review the diff).
import type { Protocol } from "../../src/config/schema.ts";
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BitRouterError } from "../../src/errors.ts";
import { type ClientContext, DIALECTS } from "../../src/protocols/dialects.ts";
import { auditRequestFields } from "../../src/protocols/fields.ts";
import type { Json } from "../../src/protocols/json.ts";
import { translatingRelay } from "../../src/protocols/translate.ts";
import { camelGeminiRequest } from "../../src/protocols/gemini/normalize.ts";
import { chatJson, chatStream, geminiJson, geminiStream, messagesJson, messagesStream, type Rendered, responsesJson, responsesStream, type Script, scriptFor } from "../support/fake-protocols.ts";

const GOLDEN = join(import.meta.dir, "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function golden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file ${name} is missing (UPDATE_GOLDEN=1 writes it)`);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

const PROTOCOLS: Protocol[] = ["chat_completions", "messages", "responses", "generate_content"];
const SHORT: Record<Protocol, string> = { chat_completions: "chat", messages: "messages", responses: "responses", generate_content: "gemini" };
const CONTEXT: ClientContext = { requestId: "req-1", model: "smart", created: 1700000000, includeUsage: true };
const USAGE = { prompt_tokens: 11, completion_tokens: 7 };
const TEXT = ["Hello", " from ", "source", "."];

function render(protocol: Protocol, script: Script): Rendered {
  const options = { id: "src-1", model: "upstream-model" };
  if (protocol === "chat_completions") return chatStream(script, { ...options, includeUsage: true });
  if (protocol === "messages") return messagesStream(script, options);
  if (protocol === "generate_content") return geminiStream(script, options);
  return responsesStream(script, options);
}

/** Feeds the source's frames to a translating relay in uneven slices; returns what the client gets. */
function translateStream(from: Protocol, to: Protocol, frames: string[], cutAfter?: number): string {
  const relay = translatingRelay(DIALECTS[from].streamDecoder(), DIALECTS[to].streamEncoder(CONTEXT));
  const bytes = new TextEncoder().encode(frames.join(""));
  for (let i = 0; i < bytes.length; i += 97) relay.push(bytes.subarray(i, i + 97));
  if (cutAfter === undefined) relay.end();
  const out = relay.take().map((f) => (typeof f === "string" ? f : new TextDecoder().decode(f))).join("");
  if (relay.failure) {
    return out + relay.errorFrame(new BitRouterError(502, "upstream_error", `the stream failed after it started: ${relay.failure}`, { code: "stream_interrupted" }));
  }
  return out;
}

const SCENARIOS = ["text", "tools", "thinking", "refusal"] as const;

describe("stream sequences, every direction", () => {
  for (const from of PROTOCOLS) {
    for (const to of PROTOCOLS) {
      if (from === to) continue;
      for (const scenario of SCENARIOS) {
        test(`${SHORT[from]} → ${SHORT[to]}: ${scenario}`, () => {
          const r = render(from, scriptFor(scenario, TEXT, USAGE, scenario === "text" ? 3 : 0));
          golden(`stream.${SHORT[from]}-to-${SHORT[to]}.${scenario}.sse`, translateStream(from, to, [...r.head, ...r.content, ...r.tail]));
        });
      }
      test(`${SHORT[from]} → ${SHORT[to]}: error after the first tokens`, () => {
        const r = render(from, scriptFor("text", TEXT, USAGE));
        golden(`stream.${SHORT[from]}-to-${SHORT[to]}.mid-stream-error.sse`, translateStream(from, to, [...r.head, ...r.content.slice(0, 3), r.inBandError]));
      });
    }
  }
});

describe("stream decoders read what the protocol says", () => {
  test("usage: Anthropic's input excludes cached tokens, ours includes them", () => {
    const r = messagesStream(scriptFor("text", TEXT, USAGE, 4), { id: "m", model: "x" });
    const relay = translatingRelay(DIALECTS.messages.streamDecoder(), DIALECTS.chat_completions.streamEncoder(CONTEXT));
    relay.push(new TextEncoder().encode([...r.head, ...r.content, ...r.tail].join("")));
    relay.end();
    // The fake reports cache writes as 0, as Anthropic does: a reported zero is kept.
    expect(relay.usage).toEqual({ inputTokens: 11, outputTokens: 7, cacheReadTokens: 4, cacheWriteTokens: 0 });
    expect(relay.complete).toBe(true);
  });

  test("a Chat tool call whose name comes after its first arguments opens only once named", () => {
    const decoder = DIALECTS.chat_completions.streamDecoder();
    const chunk = (tc: object) => JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [tc] } }] });
    expect(decoder.decode(undefined, chunk({ index: 1, id: "c1", function: { arguments: '{"a"' } }))).toEqual([]);
    expect(decoder.decode(undefined, chunk({ index: 1, function: { name: "f", arguments: ":1}" } }))).toEqual([{ type: "tool_call", index: 0, id: "c1", name: "f", arguments: '{"a":1}' }]);
  });

  test("a stream that ends before it finished is a failure, before and after the first token", () => {
    for (const [slice, failure] of [
      [1, "upstream stream ended before its first token"],
      [3, "upstream stream ended before it finished"],
    ] as const) {
      const r = chatStream(scriptFor("text", TEXT, USAGE), { id: "c", model: "x", includeUsage: false });
      const relay = translatingRelay(DIALECTS.chat_completions.streamDecoder(), DIALECTS.messages.streamEncoder(CONTEXT));
      relay.push(new TextEncoder().encode([...r.head, ...r.content].slice(0, slice).join("")));
      relay.end();
      expect(relay.failure).toBe(failure);
    }
  });
});

describe("whole answers, every direction", () => {
  const json = (protocol: Protocol, script: Script): Json =>
    (protocol === "chat_completions" ? chatJson : protocol === "messages" ? messagesJson : protocol === "generate_content" ? geminiJson : responsesJson)(script, { id: "src-1", model: "upstream-model" }) as Json;
  for (const from of PROTOCOLS) {
    for (const to of PROTOCOLS) {
      if (from === to) continue;
      for (const scenario of SCENARIOS) {
        test(`${SHORT[from]} → ${SHORT[to]}: ${scenario}`, () => {
          const ir = DIALECTS[from].decodeResponse(json(from, scriptFor(scenario, TEXT, USAGE, scenario === "text" ? 3 : 0)));
          golden(`json.${SHORT[from]}-to-${SHORT[to]}.${scenario}.json`, `${JSON.stringify(DIALECTS[to].encodeResponse(ir, CONTEXT), null, 2)}\n`);
        });
      }
    }
  }
});

// Requests as real clients send them: Claude Code (system blocks with cache_control, a
// mid-conversation system turn, tool_result with is_error, signed thinking), an OpenAI Chat
// client (system prompt, image, parallel tool calls and their results), Codex (developer input,
// function_call and function_call_output items), gemini-cli (systemInstruction, a signed
// function call without an id and its functionResponse, thinking budget, snake_case from curl).
const REQUESTS: Record<Protocol, Json> = {
  messages: {
    model: "claude-sonnet-4-5",
    max_tokens: 32000,
    system: [
      { type: "text", text: "x-anthropic-billing-header: cc_version=2.1" },
      { type: "text", text: "You are Claude Code.", cache_control: { type: "ephemeral" } },
    ],
    messages: [
      { role: "user", content: [{ type: "text", text: "List the files." }] },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "I should run ls.", signature: "sig-1" },
          { type: "text", text: "Running ls." },
          { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "permission denied" }], is_error: true, cache_control: { type: "ephemeral" } }] },
      { role: "system", content: "The user is in /tmp." },
    ],
    tools: [
      { name: "Bash", description: "Run a command", input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } },
      { type: "web_search_20250305", name: "web_search", max_uses: 5 },
    ],
    tool_choice: { type: "auto", disable_parallel_tool_use: true },
    thinking: { type: "enabled", budget_tokens: 4000 },
    metadata: { user_id: '{"session":"abc"}' },
    stream: true,
  },
  chat_completions: {
    model: "gpt-4o",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "What is in this picture, and the weather?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
          { id: "call_2", type: "function", function: { name: "get_time", arguments: '{"tz":"Europe/Paris"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "Sunny" },
      { role: "tool", tool_call_id: "call_2", content: "12:00" },
    ],
    tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
    tool_choice: "required",
    max_completion_tokens: 500,
    temperature: 0.2,
    stop: "END",
    reasoning_effort: "high",
    response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
    stream: true,
    stream_options: { include_usage: true },
  },
  responses: {
    model: "gpt-5-codex",
    input: [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "You are Codex." }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "Fix the bug." }], id: "msg_1" },
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "Look at main.ts" }], encrypted_content: "enc" },
      { type: "function_call", id: "fc_1", call_id: "call_1", name: "shell", arguments: '{"cmd":["cat","main.ts"]}', status: "completed" },
      { type: "function_call_output", call_id: "call_1", output: "console.log(1)" },
    ],
    tools: [{ type: "function", name: "shell", description: "Run", parameters: { type: "object", properties: { cmd: { type: "array" } } }, strict: false }],
    tool_choice: "auto",
    parallel_tool_calls: true,
    reasoning: { effort: "medium", summary: "auto" },
    max_output_tokens: 2000,
    store: false,
    stream: true,
  },
  generate_content: {
    systemInstruction: { parts: [{ text: "You are gemini-cli." }] },
    contents: [
      { role: "user", parts: [{ text: "Read the README." }] },
      { role: "model", parts: [{ text: "Reading it.", thought: true }, { functionCall: { name: "read_file", args: { absolute_path: "/w/README.md" } }, thoughtSignature: "CiQBsig" }] },
      { role: "user", parts: [{ functionResponse: { name: "read_file", response: { output: "# Hello" } } }] },
      { role: "user", parts: [{ text: "" }, { inline_data: { mime_type: "image/png", data: "iVBORw0KGgo=" } }] },
    ],
    tools: [{ functionDeclarations: [{ name: "read_file", description: "Read a file", parametersJsonSchema: { type: "object", properties: { absolute_path: { type: "string" } }, required: ["absolute_path"] } }] }],
    toolConfig: { functionCallingConfig: { mode: "AUTO" } },
    generationConfig: { temperature: 0, topP: 1, topK: 40, maxOutputTokens: 1000, stopSequences: ["END"], thinkingConfig: { thinkingBudget: 4096, includeThoughts: true } },
  },
};


describe("requests, every direction", () => {
  for (const from of PROTOCOLS) {
    for (const to of PROTOCOLS) {
      if (from === to) continue;
      test(`${SHORT[from]} → ${SHORT[to]}`, () => {
        // A Gemini body as the route hands it on: in camelCase (gemini/normalize.ts).
        const ir = DIALECTS[from].decodeRequest(from === "generate_content" ? (camelGeminiRequest(REQUESTS[from]) as Json) : REQUESTS[from]);
        golden(`request.${SHORT[from]}-to-${SHORT[to]}.json`, `${JSON.stringify(DIALECTS[to].encodeRequest(ir, { model: "upstream-model", stream: true }), null, 2)}\n`);
      });
    }
  }

  test("previous_response_id cannot leave the Responses protocol", () => {
    expect(() => auditRequestFields("responses", "chat_completions", { model: "m", input: "hi", previous_response_id: "resp_1" }, "src/m")).toThrow("previous_response_id");
  });
});
