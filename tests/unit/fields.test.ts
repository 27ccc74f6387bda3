// The matrix of request fields × directions (issue #8): one row per top-level field of each
// client protocol, checked against every other protocol. A field the table calls mapped must
// change what the target receives; a dropped one must leave it as it was and be reported; a
// refused one must throw a 400 naming it. A field a decoder reads that has no row, or a row
// with no sample here, fails: the next field added shows up as a missing row.
import type { Protocol } from "../../src/config/schema.ts";
import { describe, expect, test } from "bun:test";
import { BitRouterError } from "../../src/errors.ts";
import { fitRequest } from "../../src/protocols/constraints.ts";
import { DIALECTS } from "../../src/protocols/dialects.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { auditRequestFields, lossTable, REQUEST_FIELDS } from "../../src/protocols/fields.ts";
import type { Json } from "../../src/protocols/json.ts";

const PROTOCOLS: Protocol[] = ["chat_completions", "messages", "responses", "generate_content"];
const TOOL_SCHEMA = { type: "object", properties: { q: { type: "string" } } };

/** The smallest request of each protocol, with one tool so tool fields have something to act on. */
const BASE: Record<Protocol, Json> = {
  chat_completions: { model: "m", messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "f", parameters: TOOL_SCHEMA } }] },
  messages: { model: "m", max_tokens: 100, messages: [{ role: "user", content: "hi" }], tools: [{ name: "f", input_schema: TOOL_SCHEMA }] },
  responses: { model: "m", input: "hi", tools: [{ type: "function", name: "f", parameters: TOOL_SCHEMA }] },
  generate_content: { contents: [{ role: "user", parts: [{ text: "hi" }] }], tools: [{ functionDeclarations: [{ name: "f", parametersJsonSchema: TOOL_SCHEMA }] }] },
};

/** Fields BitRouter itself acts on (routing, stream mode, the fallback list): not the codec's. */
const ROUTER_FIELDS = new Set(["model", "models", "stream", "stream_options"]);

/**
 * One row per field: a value that the target can carry (for mapped/dropped checks; for a row
 * whose base request already has the field, a different value), and where the table refuses
 * some values, one that must be refused.
 */
const SAMPLES: Record<Protocol, Record<string, { value: unknown; refused?: unknown }>> = {
  chat_completions: {
    model: { value: "other" },
    messages: { value: [{ role: "system", content: "be brief" }, { role: "user", content: "hi there" }] },
    stream: { value: true },
    stream_options: { value: { include_usage: true } },
    max_tokens: { value: 77 },
    max_completion_tokens: { value: 77 },
    temperature: { value: 0.3 },
    top_p: { value: 0.9 },
    stop: { value: ["END"] },
    seed: { value: 7 },
    presence_penalty: { value: 0.5 },
    frequency_penalty: { value: 0.5 },
    logit_bias: { value: { "50256": -100 } },
    n: { value: 1, refused: 3 },
    logprobs: { value: false, refused: true },
    top_logprobs: { value: 0, refused: 5 },
    modalities: { value: ["text"], refused: ["text", "audio"] },
    audio: { value: false, refused: { voice: "alloy", format: "mp3" } },
    tools: { value: [{ type: "function", function: { name: "g", parameters: TOOL_SCHEMA } }] },
    functions: { value: [{ name: "legacy", parameters: TOOL_SCHEMA }] },
    function_call: { value: { name: "f" } },
    tool_choice: { value: "required" },
    parallel_tool_calls: { value: false },
    response_format: { value: { type: "json_schema", json_schema: { name: "r", schema: TOOL_SCHEMA } }, refused: { type: "json_object" } },
    reasoning_effort: { value: "high" },
    verbosity: { value: "low" },
    user: { value: "user-1" },
    safety_identifier: { value: "sid-1" },
    prompt_cache_key: { value: "pck-1" },
    service_tier: { value: "flex" },
    metadata: { value: { tag: "x" } },
    store: { value: true },
    prediction: { value: { type: "content", content: "x" } },
    web_search_options: { value: {} },
    models: { value: ["a", "b"] },
  },
  messages: {
    model: { value: "other" },
    messages: { value: [{ role: "user", content: [{ type: "text", text: "hi there" }] }] },
    system: { value: "be brief" },
    max_tokens: { value: 77 },
    stream: { value: true },
    temperature: { value: 0.3 },
    top_p: { value: 0.9 },
    top_k: { value: 5 },
    stop_sequences: { value: ["END"] },
    tools: { value: [{ name: "g", input_schema: TOOL_SCHEMA }] },
    tool_choice: { value: { type: "any" } },
    thinking: { value: { type: "enabled", budget_tokens: 9000 } },
    output_config: { value: { format: { type: "json_schema", schema: TOOL_SCHEMA } } },
    output_format: { value: { type: "json_schema", schema: TOOL_SCHEMA } },
    metadata: { value: { user_id: "user-1" } },
    service_tier: { value: "auto" },
    container: { value: "container_1" },
    mcp_servers: { value: [{ type: "url", url: "https://mcp.example", name: "x" }] },
    context_management: { value: { edits: [] } },
    models: { value: ["a", "b"] },
  },
  responses: {
    model: { value: "other" },
    input: { value: [{ role: "user", content: [{ type: "input_text", text: "hi there" }] }] },
    instructions: { value: "be brief" },
    stream: { value: true },
    max_output_tokens: { value: 77 },
    temperature: { value: 0.3 },
    top_p: { value: 0.9 },
    tools: { value: [{ type: "function", name: "g", parameters: TOOL_SCHEMA }] },
    tool_choice: { value: "required" },
    parallel_tool_calls: { value: false },
    reasoning: { value: { effort: "high" } },
    text: { value: { format: { type: "json_schema", name: "r", schema: TOOL_SCHEMA } }, refused: { format: { type: "json_object" } } },
    user: { value: "user-1" },
    safety_identifier: { value: "sid-1" },
    prompt_cache_key: { value: "pck-1" },
    service_tier: { value: "flex" },
    metadata: { value: { tag: "x" } },
    store: { value: false },
    include: { value: ["reasoning.encrypted_content"], refused: ["message.output_text.logprobs"] },
    top_logprobs: { value: 0, refused: 3 },
    truncation: { value: "auto" },
    max_tool_calls: { value: 3 },
    stream_options: { value: { include_obfuscation: false } },
    background: { value: false, refused: true },
    previous_response_id: { value: null, refused: "resp_1" },
    conversation: { value: null, refused: "conv_1" },
    prompt: { value: null, refused: { id: "pmpt_1" } },
    models: { value: ["a", "b"] },
  },
  generate_content: {
    contents: { value: [{ role: "user", parts: [{ text: "hi there" }] }] },
    systemInstruction: { value: { parts: [{ text: "be brief" }] } },
    tools: { value: [{ functionDeclarations: [{ name: "g", parametersJsonSchema: TOOL_SCHEMA }] }] },
    toolConfig: { value: { functionCallingConfig: { mode: "ANY" } } },
    generationConfig: { value: { temperature: 0.3, maxOutputTokens: 77 }, refused: { candidateCount: 3 } },
    safetySettings: { value: [{ category: "HARM_CATEGORY_HARASSMENT", threshold: "BLOCK_NONE" }] },
    cachedContent: { value: null, refused: "cachedContents/abc" },
    labels: { value: { team: "x" } },
    models: { value: ["a", "b"] },
  },
};

/** What the target receives for a client body: the audit, then the codec path of planExchange. */
function translate(client: Protocol, target: Protocol, body: Json): { sent: Json; dropped: string[] } {
  const { dropped } = auditRequestFields(client, target, body, "src/m");
  const { ir } = fitRequest(DIALECTS[client].decodeRequest(body), target);
  return { sent: DIALECTS[target].encodeRequest(ir, { model: "m", stream: false, reasoningHistory: true }), dropped };
}

describe("every field of every client protocol has a row", () => {
  for (const client of PROTOCOLS) {
    test(`${client}: the table and the samples list the same fields`, () => {
      expect(Object.keys(SAMPLES[client]).sort()).toEqual(Object.keys(REQUEST_FIELDS[client]).sort());
    });

    test(`${client}: every field the decoder reads has a row`, () => {
      const read = new Set<string>();
      const body = { ...BASE[client] };
      for (const [field, sample] of Object.entries(SAMPLES[client])) if (sample.value !== null && !ROUTER_FIELDS.has(field)) body[field] = sample.value;
      const watched = new Proxy(body, {
        get(target, key, receiver) {
          if (typeof key === "string") read.add(key);
          return Reflect.get(target, key, receiver);
        },
      });
      DIALECTS[client].decodeRequest(watched);
      const missing = [...read].filter((field) => !(field in REQUEST_FIELDS[client]));
      expect(missing).toEqual([]);
    });
  }
});

describe("request fields × directions", () => {
  for (const client of PROTOCOLS) {
    for (const target of PROTOCOLS) {
      if (target === client) continue;
      for (const [field, rule] of Object.entries(REQUEST_FIELDS[client])) {
        const sample = SAMPLES[client][field];
        test(`${client} → ${target}: ${field} is ${rule.to[target]}${sample?.refused !== undefined ? " (refused for some values)" : ""}`, () => {
          expect(sample).toBeDefined();
          expect(rule.to[target]).toBeDefined();
          const base = translate(client, target, BASE[client]);
          if (sample!.value !== null && !ROUTER_FIELDS.has(field)) {
            const withField = translate(client, target, { ...BASE[client], [field]: sample!.value });
            if (rule.to[target] === "mapped") {
              expect(withField.sent).not.toEqual(base.sent);
            } else {
              expect(withField.sent).toEqual(base.sent);
              expect(withField.dropped).toContain(field);
            }
          }
          if (sample!.refused !== undefined) {
            let thrown: unknown;
            try {
              translate(client, target, { ...BASE[client], [field]: sample!.refused });
            } catch (err) {
              thrown = err;
            }
            // json_object is refused only on the way to Messages; elsewhere it is mapped.
            const refusesHere = rule.refuse?.(sample!.refused, target);
            if (refusesHere) {
              expect(thrown).toBeInstanceOf(BitRouterError);
              expect((thrown as BitRouterError).status).toBe(400);
              expect((thrown as BitRouterError).param).toBe(field);
              expect((thrown as BitRouterError).message).toContain(`'${field}'`);
              expect((thrown as BitRouterError).message).toContain("src/m");
            } else {
              expect(thrown).toBeUndefined();
            }
          }
        });
      }
    }
  }

  test("an unknown field is dropped and reported, never sent", () => {
    const { sent, dropped } = translate("chat_completions", "messages", { ...BASE.chat_completions, brand_new_field: 1 });
    expect(dropped).toContain("brand_new_field");
    expect(JSON.stringify(sent)).not.toContain("brand_new_field");
  });

  test("Messages → Chat: exact values for what both can express", () => {
    const { sent } = translate("messages", "chat_completions", {
      model: "m",
      max_tokens: 100,
      system: [{ type: "text", text: "be brief", cache_control: { type: "ephemeral" } }],
      temperature: 0.2,
      top_p: 0.8,
      stop_sequences: ["END"],
      metadata: { user_id: "u1" },
      tools: [{ name: "f", description: "d", input_schema: TOOL_SCHEMA }],
      tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true },
      output_config: { format: { type: "json_schema", schema: TOOL_SCHEMA } },
      messages: [
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } }] },
        { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "s" }, { type: "tool_use", id: "t1", name: "f", input: { q: "x" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "found" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "BBBB" } }] }] },
      ],
    });
    expect(sent).toEqual({
      model: "m",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
        { role: "assistant", content: null, reasoning_content: "hmm", tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: '{"q":"x"}' } }] },
        { role: "tool", tool_call_id: "t1", content: "found" },
        { role: "user", content: [{ type: "text", text: "(attachments returned by tool call t1)" }, { type: "image_url", image_url: { url: "data:image/png;base64,BBBB" } }] },
      ],
      tools: [{ type: "function", function: { name: "f", description: "d", parameters: TOOL_SCHEMA } }],
      tool_choice: { type: "function", function: { name: "f" } },
      parallel_tool_calls: false,
      max_tokens: 100,
      temperature: 0.2,
      top_p: 0.8,
      stop: ["END"],
      response_format: { type: "json_schema", json_schema: { name: "response", schema: TOOL_SCHEMA, strict: true } },
      user: "u1",
    });
  });
});

test("the README's loss table is the field table, word for word", () => {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  const inReadme = /<!-- loss-table:start -->\n([\s\S]*?)\n<!-- loss-table:end -->/.exec(readme)?.[1];
  expect(inReadme).toBe(lossTable());
});
