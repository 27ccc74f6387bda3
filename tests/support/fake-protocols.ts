// What the fake sources say, in each wire protocol, written from the field-level facts of
// ../shared/reference/client-compat.md §2: Chat chunks with a role chunk, finish chunk, usage
// chunk and [DONE]; Messages events with `event:` lines, ping, message_delta usage and
// message_stop; Responses events with sequence numbers and a terminal response.completed;
// Gemini chunks, each a whole GenerateContentResponse on a CRLF-framed `data:` line, with
// cumulative usageMetadata and the finishReason on the last (client-compat.md §2.4).

export type Wire = "chat" | "messages" | "responses" | "gemini";

/** What the answer says, whatever the protocol. */
export interface Script {
  text: string[];
  reasoning?: string[];
  signature?: string;
  toolCalls?: { id: string; name: string; args: string[] }[];
  refusal?: string;
  stop: "stop" | "tool_calls" | "length" | "refusal";
  usage: { input: number; output: number; cacheRead?: number; cacheWrite?: number; reasoning?: number };
}

/** A stream cut into parts, so a scenario can stop, stall or break it between any two frames. */
export interface Rendered {
  head: string[];
  content: string[];
  tail: string[];
  inBandError: string;
  malformed: string;
  /** Valid JSON in a shape the protocol never sends (a null where an object belongs). */
  oddShape: string;
}

export const TOOL_CALLS = [
  { id: "call_weather", name: "get_weather", args: ['{"city"', ':"Paris"}'] },
  { id: "call_time", name: "get_time", args: ['{"tz":', '"Europe/Paris"}'] },
];

export function scriptFor(kind: string, text: string[], usage: { prompt_tokens: number; completion_tokens: number }, cacheRead = 0, more: { cacheWrite?: number; reasoning?: number } = {}): Script {
  const base = {
    text,
    stop: "stop" as const,
    usage: { input: usage.prompt_tokens, output: usage.completion_tokens, ...(cacheRead ? { cacheRead } : {}), ...(more.cacheWrite ? { cacheWrite: more.cacheWrite } : {}), ...(more.reasoning ? { reasoning: more.reasoning } : {}) },
  };
  switch (kind) {
    case "tools":
      return { ...base, text: [], toolCalls: TOOL_CALLS, stop: "tool_calls" };
    case "shell":
      // What an agent's model does: ask for gemini-cli's shell tool (the agent runs it).
      return { ...base, text: [], toolCalls: [{ id: "call_shell", name: "run_shell_command", args: ['{"command":', '"echo hello-from-tool"}'] }], stop: "tool_calls" };
    case "thinking":
      return { ...base, reasoning: ["Let me think", " about it."], signature: "sig-EqQBCkYIARgCIkB", usage: { ...base.usage, reasoning: 4 } };
    case "refusal":
      return { ...base, text: [], refusal: "I can't help with that.", stop: "refusal" };
    case "long":
      return { ...base, stop: "length" };
    default:
      return base;
  }
}

// ── Chat Completions ────────────────────────────────────────────────────────────────────

export function chatStream(script: Script, options: { id: string; model: string; includeUsage: boolean }): Rendered {
  const base = { id: options.id, object: "chat.completion.chunk", created: 1700000000, model: options.model, system_fingerprint: "fp_fake" };
  const frame = (choices: unknown[], usage?: unknown) => `data: ${JSON.stringify({ ...base, choices, ...(options.includeUsage ? { usage: usage ?? null } : {}) })}\n\n`;
  const delta = (d: object) => frame([{ index: 0, delta: d, finish_reason: null }]);
  const content: string[] = [];
  for (const r of script.reasoning ?? []) content.push(delta({ reasoning_content: r }));
  for (const t of script.text) content.push(delta({ content: t }));
  if (script.refusal) content.push(delta({ refusal: script.refusal }));
  script.toolCalls?.forEach((call, index) => {
    content.push(delta({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }));
    for (const part of call.args) content.push(delta({ tool_calls: [{ index, function: { arguments: part } }] }));
  });
  const finish = { stop: "stop", tool_calls: "tool_calls", length: "length", refusal: "content_filter" }[script.stop];
  const usage = chatUsage(script);
  const tail = [frame([{ index: 0, delta: {}, finish_reason: finish }])];
  if (options.includeUsage) tail.push(frame([], usage));
  tail.push("data: [DONE]\n\n");
  return {
    head: [delta({ role: "assistant", content: "" })],
    content,
    tail,
    inBandError: `data: ${JSON.stringify({ error: { message: "the GPU fell over", type: "server_error", code: null } })}\n\n`,
    malformed: 'data: {"id":"x","choices":[{"delta":{"content":"oops"\n\n',
    oddShape: 'data: {"id":"x","object":"chat.completion.chunk","choices":[null]}\n\n',
  };
}

/** Chat usage as OpenAI (cached tokens) and OpenRouter (cache writes) report it. */
function chatUsage(script: Script) {
  const details = { ...(script.usage.cacheRead ? { cached_tokens: script.usage.cacheRead } : {}), ...(script.usage.cacheWrite ? { cache_write_tokens: script.usage.cacheWrite } : {}) };
  return {
    prompt_tokens: script.usage.input,
    completion_tokens: script.usage.output,
    total_tokens: script.usage.input + script.usage.output,
    ...(Object.keys(details).length > 0 ? { prompt_tokens_details: details } : {}),
    ...(script.usage.reasoning ? { completion_tokens_details: { reasoning_tokens: script.usage.reasoning } } : {}),
  };
}

export function chatJson(script: Script, options: { id: string; model: string }): object {
  const message: Record<string, unknown> = { role: "assistant", content: script.text.join("") || null };
  if (script.reasoning) message.reasoning_content = script.reasoning.join("");
  if (script.refusal) message.refusal = script.refusal;
  if (script.toolCalls) message.tool_calls = script.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.args.join("") } }));
  return {
    id: options.id,
    object: "chat.completion",
    created: 1700000000,
    model: options.model,
    choices: [{ index: 0, message, finish_reason: { stop: "stop", tool_calls: "tool_calls", length: "length", refusal: "content_filter" }[script.stop], logprobs: null }],
    usage: chatUsage(script),
    system_fingerprint: "fp_fake",
  };
}

// ── Anthropic Messages ──────────────────────────────────────────────────────────────────

const STOP_REASON = { stop: "end_turn", tool_calls: "tool_use", length: "max_tokens", refusal: "refusal" };

function messagesUsage(script: Script, phase: "start" | "end") {
  const cacheRead = script.usage.cacheRead ?? 0;
  const cacheWrite = script.usage.cacheWrite ?? 0;
  return {
    input_tokens: script.usage.input - cacheRead - cacheWrite,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: phase === "start" ? 1 : script.usage.output,
  };
}

export function messagesStream(script: Script, options: { id: string; model: string }): Rendered {
  // `ping` as real Anthropic writes it: with a space after the colon.
  const event = (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  const head = [
    event("message_start", { message: { id: options.id, type: "message", role: "assistant", model: options.model, content: [], stop_reason: null, stop_sequence: null, usage: messagesUsage(script, "start") } }),
  ];
  const content: string[] = [];
  let index = 0;
  if (script.reasoning) {
    content.push(event("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } }));
    for (const r of script.reasoning) content.push(event("content_block_delta", { index, delta: { type: "thinking_delta", thinking: r } }));
    content.push(event("content_block_delta", { index, delta: { type: "signature_delta", signature: script.signature ?? "" } }));
    content.push(event("content_block_stop", { index }));
    index++;
  }
  if (script.text.length > 0) {
    content.push(event("content_block_start", { index, content_block: { type: "text", text: "" } }));
    content.push('event: ping\ndata: {"type": "ping"}\n\n');
    for (const t of script.text) content.push(event("content_block_delta", { index, delta: { type: "text_delta", text: t } }));
    content.push(event("content_block_stop", { index }));
    index++;
  }
  for (const call of script.toolCalls ?? []) {
    content.push(event("content_block_start", { index, content_block: { type: "tool_use", id: call.id, name: call.name, input: {} } }));
    content.push(event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } }));
    for (const part of call.args) content.push(event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: part } }));
    content.push(event("content_block_stop", { index }));
    index++;
  }
  const tail = [
    event("message_delta", { delta: { stop_reason: STOP_REASON[script.stop], stop_sequence: null }, usage: { output_tokens: script.usage.output } }),
    event("message_stop", {}),
  ];
  return {
    head,
    content,
    tail,
    inBandError: event("error", { error: { type: "overloaded_error", message: "Overloaded" } }),
    malformed: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_\n\n',
    oddShape: 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":null}\n\n',
  };
}

export function messagesJson(script: Script, options: { id: string; model: string }): object {
  const content: object[] = [];
  if (script.reasoning) content.push({ type: "thinking", thinking: script.reasoning.join(""), signature: script.signature ?? "" });
  if (script.text.length > 0) content.push({ type: "text", text: script.text.join("") });
  for (const call of script.toolCalls ?? []) content.push({ type: "tool_use", id: call.id, name: call.name, input: JSON.parse(call.args.join("")) });
  return { id: options.id, type: "message", role: "assistant", model: options.model, content, stop_reason: STOP_REASON[script.stop], stop_sequence: null, usage: messagesUsage(script, "end") };
}

// ── OpenAI Responses ────────────────────────────────────────────────────────────────────

function responsesUsage(script: Script) {
  return {
    input_tokens: script.usage.input,
    input_tokens_details: { cached_tokens: script.usage.cacheRead ?? 0 },
    output_tokens: script.usage.output,
    output_tokens_details: { reasoning_tokens: script.usage.reasoning ?? 0 },
    total_tokens: script.usage.input + script.usage.output,
  };
}

function responseObject(options: { id: string; model: string }, status: string, output: object[], usage: object | null) {
  return {
    id: options.id,
    object: "response",
    created_at: 1700000000,
    status,
    model: options.model,
    output,
    usage,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: null,
    metadata: {},
    parallel_tool_calls: true,
    tool_choice: "auto",
    tools: [],
    temperature: 1,
    top_p: 1,
  };
}

export function responsesItems(script: Script, id: string): object[] {
  const items: object[] = [];
  if (script.reasoning) items.push({ id: `rs_${id}`, type: "reasoning", summary: [{ type: "summary_text", text: script.reasoning.join("") }] });
  if (script.text.length > 0) items.push({ id: `msg_${id}`, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: script.text.join(""), annotations: [], logprobs: [] }] });
  if (script.refusal) items.push({ id: `msg_${id}`, type: "message", status: "completed", role: "assistant", content: [{ type: "refusal", refusal: script.refusal }] });
  for (const call of script.toolCalls ?? []) items.push({ id: `fc_${call.id}`, type: "function_call", status: "completed", call_id: call.id, name: call.name, arguments: call.args.join("") });
  return items;
}

export function responsesStream(script: Script, options: { id: string; model: string }): Rendered {
  let seq = 0;
  const event = (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...payload })}\n\n`;
  const short = options.id.replace(/^resp_/, "");
  const head = [event("response.created", { response: responseObject(options, "in_progress", [], null) }), event("response.in_progress", { response: responseObject(options, "in_progress", [], null) })];
  const content: string[] = [];
  const items = responsesItems(script, short);
  let output = 0;
  if (script.reasoning) {
    const item = items[output] as { id: string };
    content.push(event("response.output_item.added", { output_index: output, item: { id: item.id, type: "reasoning", summary: [] } }));
    content.push(event("response.reasoning_summary_part.added", { item_id: item.id, output_index: output, summary_index: 0, part: { type: "summary_text", text: "" } }));
    for (const r of script.reasoning) content.push(event("response.reasoning_summary_text.delta", { item_id: item.id, output_index: output, summary_index: 0, delta: r }));
    content.push(event("response.reasoning_summary_text.done", { item_id: item.id, output_index: output, summary_index: 0, text: script.reasoning.join("") }));
    content.push(event("response.reasoning_summary_part.done", { item_id: item.id, output_index: output, summary_index: 0, part: { type: "summary_text", text: script.reasoning.join("") } }));
    content.push(event("response.output_item.done", { output_index: output, item }));
    output++;
  }
  if (script.text.length > 0 || script.refusal) {
    const item = items[output] as { id: string };
    const refusal = script.text.length === 0;
    content.push(event("response.output_item.added", { output_index: output, item: { id: item.id, type: "message", status: "in_progress", role: "assistant", content: [] } }));
    content.push(event("response.content_part.added", { item_id: item.id, output_index: output, content_index: 0, part: refusal ? { type: "refusal", refusal: "" } : { type: "output_text", text: "", annotations: [], logprobs: [] } }));
    if (refusal) {
      content.push(event("response.refusal.delta", { item_id: item.id, output_index: output, content_index: 0, delta: script.refusal }));
      content.push(event("response.refusal.done", { item_id: item.id, output_index: output, content_index: 0, refusal: script.refusal }));
      content.push(event("response.content_part.done", { item_id: item.id, output_index: output, content_index: 0, part: { type: "refusal", refusal: script.refusal } }));
    } else {
      for (const t of script.text) content.push(event("response.output_text.delta", { item_id: item.id, output_index: output, content_index: 0, delta: t, logprobs: [] }));
      const text = script.text.join("");
      content.push(event("response.output_text.done", { item_id: item.id, output_index: output, content_index: 0, text, logprobs: [] }));
      content.push(event("response.content_part.done", { item_id: item.id, output_index: output, content_index: 0, part: { type: "output_text", text, annotations: [], logprobs: [] } }));
    }
    content.push(event("response.output_item.done", { output_index: output, item }));
    output++;
  }
  for (const call of script.toolCalls ?? []) {
    const item = items[output] as { id: string };
    content.push(event("response.output_item.added", { output_index: output, item: { id: item.id, type: "function_call", status: "in_progress", call_id: call.id, name: call.name, arguments: "" } }));
    for (const part of call.args) content.push(event("response.function_call_arguments.delta", { item_id: item.id, output_index: output, delta: part }));
    content.push(event("response.function_call_arguments.done", { item_id: item.id, output_index: output, arguments: call.args.join("") }));
    content.push(event("response.output_item.done", { output_index: output, item }));
    output++;
  }
  const status = script.stop === "length" ? "incomplete" : "completed";
  const tail = [event(`response.${status}`, { response: responseObject(options, status, items, responsesUsage(script)) })];
  const failed = event("error", { code: "server_error", message: "the GPU fell over", param: null }) + event("response.failed", { response: { ...responseObject(options, "failed", [], null), error: { code: "server_error", message: "the GPU fell over" } } });
  return { head, content, tail, inBandError: failed, malformed: 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"oo\n\n',
    oddShape: 'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":0,"item":null}\n\n',
  };
}

export function responsesJson(script: Script, options: { id: string; model: string }): object {
  return responseObject(options, script.stop === "length" ? "incomplete" : "completed", responsesItems(script, options.id.replace(/^resp_/, "")), responsesUsage(script));
}

// ── Google Gemini ───────────────────────────────────────────────────────────────────────

const FINISH_REASON = { stop: "STOP", tool_calls: "STOP", length: "MAX_TOKENS", refusal: "SAFETY" };

function geminiUsage(script: Script) {
  const thoughts = script.usage.reasoning ?? 0;
  return {
    promptTokenCount: script.usage.input,
    candidatesTokenCount: script.usage.output - thoughts,
    totalTokenCount: script.usage.input + script.usage.output,
    ...(script.usage.cacheRead ? { cachedContentTokenCount: script.usage.cacheRead } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
}

/**
 * The parts of a Gemini answer: thoughts, then text whose first part carries the thinking's
 * signature, then whole function calls (no ids, as the Gemini API sends them) with
 * `callSignature` on the first, as Gemini 3 does.
 */
function geminiParts(script: Script, callSignature: string): Record<string, unknown>[][] {
  const chunks: Record<string, unknown>[][] = [];
  for (const r of script.reasoning ?? []) chunks.push([{ text: r, thought: true }]);
  script.text.forEach((t, i) => chunks.push([{ text: t, ...(i === 0 && script.signature ? { thoughtSignature: script.signature } : {}) }]));
  if (script.refusal) chunks.push([{ text: script.refusal }]);
  script.toolCalls?.forEach((call, i) => chunks.push([{ functionCall: { name: call.name, args: JSON.parse(call.args.join("")) }, ...(i === 0 ? { thoughtSignature: callSignature } : {}) }]));
  return chunks;
}

export function geminiStream(script: Script, options: { id: string; model: string; callSignature?: string }): Rendered {
  const frame = (body: object) => `data: ${JSON.stringify(body)}\r\n\r\n`;
  const base = { modelVersion: options.model, responseId: options.id };
  const running = { promptTokenCount: script.usage.input, totalTokenCount: script.usage.input };
  const content = geminiParts(script, options.callSignature ?? "sig-call-1").map((parts) => frame({ candidates: [{ content: { parts, role: "model" }, index: 0 }], usageMetadata: running, ...base }));
  const tail = [frame({ candidates: [{ content: { parts: [{ text: "" }], role: "model" }, finishReason: FINISH_REASON[script.stop], index: 0 }], usageMetadata: geminiUsage(script), ...base })];
  return {
    head: [],
    content,
    tail,
    inBandError: frame({ error: { code: 500, message: "the GPU fell over", status: "INTERNAL" } }),
    malformed: 'data: {"candidates":[{"content":{"parts":[{"text":"oo\r\n\r\n',
    oddShape: frame({ candidates: [null] }),
  };
}

export function geminiJson(script: Script, options: { id: string; model: string; callSignature?: string }): object {
  return {
    candidates: [{ content: { parts: geminiParts(script, options.callSignature ?? "sig-call-1").flat(), role: "model" }, finishReason: FINISH_REASON[script.stop], index: 0 }],
    usageMetadata: geminiUsage(script),
    modelVersion: options.model,
    responseId: options.id,
  };
}

/** Each protocol's error body for an HTTP status. */
export function errorBody(wire: Wire, status: number): object {
  if (wire === "gemini") {
    const name = status === 429 ? "RESOURCE_EXHAUSTED" : status === 503 ? "UNAVAILABLE" : status >= 500 ? "INTERNAL" : status === 401 ? "UNAUTHENTICATED" : status === 403 ? "PERMISSION_DENIED" : "INVALID_ARGUMENT";
    // A 429 says when to come back in a RetryInfo detail, as Gemini does (google-429-retry-info.json).
    const details = status === 429 ? { details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "34.4s" }] } : {};
    return { error: { code: status, message: `fake upstream says ${status}`, status: name, ...details } };
  }
  if (wire === "messages") {
    const type = status === 529 ? "overloaded_error" : status === 429 ? "rate_limit_error" : status >= 500 ? "api_error" : status === 401 ? "authentication_error" : "invalid_request_error";
    return { type: "error", error: { type, message: `fake upstream says ${status}` }, request_id: "req_fake" };
  }
  const type = status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : status === 401 ? "invalid_api_key" : "invalid_request_error";
  return { error: { message: `fake upstream says ${status}`, type, code: type, param: null } };
}
