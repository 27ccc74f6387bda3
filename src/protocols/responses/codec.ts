// OpenAI Responses ⇄ the intermediate representation: requests, whole responses and stream
// events. Streams always end with a terminal event (response.completed / .incomplete / .failed).
import { errorText, mediaFromUrl, mediaToUrl } from "../chat-completions/codec.ts";
import { hasContent, vanishingTurn } from "../fields.ts";
import type { Message, Part, Request, Response, StopReason, StreamDecoder, StreamEncoder, StreamEvent, Usage } from "../ir.ts";
import { argumentsText, isBlank, isGeminiSignature, openaiEffort, textOf, wholeArguments, withCallIds } from "../ir.ts";
import { asArray, asNumber, asObject, asString, isObject, type Json, malformed, parseEventData } from "../json.ts";

// ── requests ────────────────────────────────────────────────────────────────────────────

export function decodeResponsesRequest(body: Json): Request {
  const ir: Request = { model: asString(body.model) ?? "", system: [], messages: [], tools: [], stream: body.stream === true };
  const instructions = asString(body.instructions);
  if (instructions) ir.system.push({ text: instructions });
  let opening = true;
  const push = (role: Message["role"], part: Part) => {
    const last = ir.messages.at(-1);
    const mergeable = last && last.role === role && (role === "assistant" || (part.type === "tool_result" && last.content.every((p) => p.type === "tool_result")));
    if (mergeable) last.content.push(part);
    else ir.messages.push({ role, content: [part] });
  };
  const items = typeof body.input === "string" ? [{ role: "user", content: body.input }] : asArray(body.input);
  for (const [i, raw] of items.entries()) {
    const item = asObject(raw);
    const type = asString(item.type) ?? (item.role ? "message" : undefined);
    // A reference to a stored item needs the source's state, like previous_response_id.
    if (type === "item_reference") throw vanishingTurn(`input[${i}]`, [item]);
    if (type === "message") {
      const role = asString(item.role);
      if (role === "system" || role === "developer") {
        const text = typeof item.content === "string" ? item.content : textOf(decodeContent(item.content));
        if (opening) ir.system.push({ text });
        else ir.messages.push({ role: "system", content: [{ type: "text", text }] });
        continue;
      }
      opening = false;
      const content = decodeContent(item.content);
      if (role !== "assistant" && content.length === 0 && hasContent(item.content)) throw vanishingTurn(`input[${i}].content`, item.content);
      if (role === "assistant") for (const part of content) push("assistant", part);
      else ir.messages.push({ role: "user", content });
    } else if (type === "function_call") {
      opening = false;
      push("assistant", { type: "tool_call", id: asString(item.call_id) ?? "", name: asString(item.name) ?? "", arguments: wholeArguments(argumentsText(item.arguments) ?? "") });
    } else if (type === "function_call_output") {
      opening = false;
      // A string, a list of parts, or (some clients) a bare JSON value, sent on as its JSON text.
      const output = typeof item.output === "string" ? [{ type: "text" as const, text: item.output }] : Array.isArray(item.output) ? decodeContent(item.output).filter((p) => p.type === "text" || p.type === "image") : [{ type: "text" as const, text: item.output === undefined ? "" : JSON.stringify(item.output) }];
      push("user", { type: "tool_result", callId: asString(item.call_id) ?? "", content: output });
    } else if (type === "reasoning") {
      const text = asArray(item.summary)
        .map((s) => asString(asObject(s).text) ?? "")
        .join("\n");
      if (text) push("assistant", { type: "reasoning", text });
      // A Gemini signature this server handed out (encrypted_content is the Responses slot for
      // reasoning state); OpenAI's own encrypted reasoning means nothing to another source.
      const sealed = asString(item.encrypted_content);
      if (isGeminiSignature(sealed)) push("assistant", { type: "reasoning", text: "", signature: sealed });
    }
  }
  for (const raw of asArray(body.tools)) {
    const tool = asObject(raw);
    if (tool.type !== "function") continue;
    ir.tools.push({ name: asString(tool.name) ?? "", description: asString(tool.description), parameters: asObject(tool.parameters), strict: typeof tool.strict === "boolean" ? tool.strict : undefined });
  }
  const choice = body.tool_choice;
  if (choice === "auto" || choice === "none" || choice === "required") ir.toolChoice = { type: choice };
  else if (asString(asObject(choice).name)) ir.toolChoice = { type: "tool", name: asString(asObject(choice).name)! };
  if (typeof body.parallel_tool_calls === "boolean") ir.parallelToolCalls = body.parallel_tool_calls;
  ir.maxTokens = asNumber(body.max_output_tokens);
  ir.temperature = asNumber(body.temperature);
  ir.topP = asNumber(body.top_p);
  const effort = asString(asObject(body.reasoning).effort);
  if (effort) ir.reasoning = { effort };
  const text = asObject(body.text);
  const format = asObject(text.format);
  ir.verbosity = asString(text.verbosity);
  ir.safetyIdentifier = asString(body.safety_identifier);
  ir.promptCacheKey = asString(body.prompt_cache_key);
  ir.serviceTier = asString(body.service_tier);
  if (format.type === "json_schema") ir.responseFormat = { type: "json_schema", name: asString(format.name), schema: format.schema ?? {}, strict: typeof format.strict === "boolean" ? format.strict : undefined };
  else if (format.type === "json_object") ir.responseFormat = { type: "json_object" };
  ir.user = asString(body.user);
  return ir;
}

function decodeContent(content: unknown): Part[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  const parts: Part[] = [];
  for (const raw of asArray(content)) {
    const p = asObject(raw);
    switch (p.type) {
      case "input_text":
      case "output_text":
      case "text":
        parts.push({ type: "text", text: asString(p.text) ?? "" });
        break;
      case "refusal":
        parts.push({ type: "refusal", text: asString(p.refusal) ?? "" });
        break;
      case "input_image": {
        const url = asString(p.image_url);
        if (url) parts.push({ type: "image", source: mediaFromUrl(url) });
        break;
      }
      case "input_file": {
        const data = asString(p.file_data) ?? asString(p.file_url);
        if (data) parts.push({ type: "document", source: mediaFromUrl(data), filename: asString(p.filename) });
        break;
      }
    }
  }
  return parts;
}

export function encodeResponsesRequest(ir: Request, options: { model: string; stream: boolean }): Json {
  const input: Json[] = [];
  for (const message of ir.messages) {
    if (message.role === "system") {
      input.push({ type: "message", role: "developer", content: [{ type: "input_text", text: textOf(message.content) }] });
    } else if (message.role === "assistant") {
      const text = message.content
        .filter((p) => p.type === "text" || p.type === "refusal")
        .map((p) => (p as { text: string }).text)
        .join("");
      if (text) input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text }] });
      for (const part of message.content) {
        if (part.type === "tool_call") input.push({ type: "function_call", call_id: part.id, name: part.name, arguments: wholeArguments(part.arguments) });
      }
    } else {
      for (const part of message.content) {
        if (part.type !== "tool_result") continue;
        const text = (part.isError ? "Error: " : "") + textOf(part.content);
        // Images a tool returned travel in the output's list form; text alone stays a string.
        const media = part.content.filter((p) => p.type === "image" || p.type === "document");
        const output = media.length === 0 ? text : [...(text ? [{ type: "input_text", text }] : []), ...media.map(encodeInputPart).filter((p): p is Json => p !== null)];
        input.push({ type: "function_call_output", call_id: part.callId, output });
      }
      const content = message.content.map(encodeInputPart).filter((p): p is Json => p !== null);
      if (content.length > 0) input.push({ type: "message", role: "user", content });
    }
  }
  const body: Json = { model: options.model, input };
  if (ir.system.length > 0) body.instructions = ir.system.map((s) => s.text).join("\n");
  if (ir.tools.length > 0) {
    body.tools = ir.tools.map((t) => ({ type: "function", name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters, strict: t.strict ?? false }));
  }
  if (ir.toolChoice) body.tool_choice = ir.toolChoice.type === "tool" ? { type: "function", name: ir.toolChoice.name } : ir.toolChoice.type;
  if (ir.parallelToolCalls !== undefined && ir.tools.length > 0) body.parallel_tool_calls = ir.parallelToolCalls;
  if (ir.maxTokens !== undefined) body.max_output_tokens = ir.maxTokens;
  if (ir.temperature !== undefined) body.temperature = ir.temperature;
  if (ir.topP !== undefined) body.top_p = ir.topP;
  const effort = openaiEffort(ir.reasoning);
  if (effort) body.reasoning = { effort };
  const text: Json = {};
  if (ir.responseFormat?.type === "json_schema") {
    text.format = { type: "json_schema", name: ir.responseFormat.name ?? "response", schema: ir.responseFormat.schema, ...(ir.responseFormat.strict !== undefined ? { strict: ir.responseFormat.strict } : {}) };
  } else if (ir.responseFormat) {
    text.format = { type: "json_object" };
  }
  if (ir.verbosity) text.verbosity = ir.verbosity;
  if (Object.keys(text).length > 0) body.text = text;
  if (ir.user) body.user = ir.user;
  if (ir.safetyIdentifier) body.safety_identifier = ir.safetyIdentifier;
  if (ir.promptCacheKey) body.prompt_cache_key = ir.promptCacheKey;
  if (ir.serviceTier) body.service_tier = ir.serviceTier;
  if (options.stream) body.stream = true;
  return body;
}

function encodeInputPart(part: Part): Json | null {
  switch (part.type) {
    case "text":
      return { type: "input_text", text: part.text };
    case "image":
      return { type: "input_image", image_url: mediaToUrl(part.source) };
    case "document":
      if (part.source.kind === "text") return { type: "input_text", text: part.source.text };
      return { type: "input_file", ...(part.source.kind === "url" ? { file_url: part.source.url } : { file_data: mediaToUrl(part.source) }), ...(part.filename ? { filename: part.filename } : {}) };
    default:
      return null;
  }
}

// ── whole responses ─────────────────────────────────────────────────────────────────────

export function decodeResponsesResponse(body: Json): Response {
  const content: Part[] = [];
  for (const raw of asArray(body.output)) {
    const item = asObject(raw);
    if (item.type === "reasoning") {
      const text = [...asArray(item.summary), ...asArray(item.content)].map((s) => asString(asObject(s).text) ?? "").join("");
      if (text) content.push({ type: "reasoning", text });
    } else if (item.type === "message") {
      content.push(...decodeContent(item.content));
    } else if (item.type === "function_call") {
      content.push({ type: "tool_call", id: asString(item.call_id) ?? "", name: asString(item.name) ?? "", arguments: wholeArguments(argumentsText(item.arguments) ?? "") });
    }
  }
  return { id: asString(body.id) ?? "", content, stopReason: stopReasonOf(body, content.some((p) => p.type === "tool_call")), usage: body.usage ? readResponsesUsage(asObject(body.usage)) : null };
}

function stopReasonOf(response: Json, calledTools: boolean): StopReason {
  const status = asString(response.status);
  if (status === "incomplete") return asString(asObject(response.incomplete_details).reason) === "content_filter" ? "content_filter" : "length";
  if (status === "failed") return "error";
  return calledTools ? "tool_calls" : "stop";
}

export interface ResponsesContext {
  id: string;
  model: string;
  createdAt: number;
}

export function encodeResponsesResponse(ir: Response, context: ResponsesContext): Json {
  const output: Json[] = [];
  let n = 0;
  const itemId = (prefix: string) => `${prefix}_${context.id.replace(/^resp_/, "")}_${n++}`;
  const reasoning = ir.content.filter((p) => p.type === "reasoning").map((p) => (p as { text: string }).text).join("");
  if (reasoning) output.push({ id: itemId("rs"), type: "reasoning", summary: [{ type: "summary_text", text: reasoning }] });
  // Items in the order of the answer: a Gemini signature just before the message or call it signs.
  const messageContent: Json[] = [];
  const text = textOf(ir.content);
  if (text) messageContent.push(outputText(text));
  for (const part of ir.content) if (part.type === "refusal") messageContent.push({ type: "refusal", refusal: part.text });
  let messageSent = messageContent.length === 0;
  for (const part of withCallIds(ir.content, (k) => `call_${context.id.replace(/^resp_/, "")}_${k}`)) {
    if (part.type === "reasoning" && isGeminiSignature(part.signature)) output.push(sealedReasoning(itemId("rs"), part.signature));
    if (!messageSent && (part.type === "text" || part.type === "refusal")) {
      output.push({ id: itemId("msg"), type: "message", status: "completed", role: "assistant", content: messageContent });
      messageSent = true;
    }
    if (part.type === "tool_call") output.push({ id: itemId("fc"), type: "function_call", status: "completed", call_id: part.id, name: part.name, arguments: wholeArguments(part.arguments) });
  }
  return responseObject(context, ir.stopReason === "length" ? "incomplete" : "completed", output, ir.usage);
}

function outputText(text: string): Json {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function responseObject(context: ResponsesContext, status: string, output: Json[], usage: Usage | null, extra: Json = {}): Json {
  return {
    id: context.id,
    object: "response",
    created_at: context.createdAt,
    status,
    model: context.model,
    output,
    usage: usage ? writeResponsesUsage(usage) : null,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: null,
    max_output_tokens: null,
    metadata: {},
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: null,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: null,
    truncation: "disabled",
    user: null,
    ...extra,
  };
}

/** OpenAI's Responses usage counts cached tokens inside input_tokens, as we do. */
export function readResponsesUsage(usage: Json): Usage {
  const result: Usage = { inputTokens: asNumber(usage.input_tokens) ?? 0, outputTokens: asNumber(usage.output_tokens) ?? 0 };
  // A zero the source reported is a fact; a count it did not report stays absent.
  const cached = asNumber(asObject(usage.input_tokens_details).cached_tokens);
  if (cached !== undefined) result.cacheReadTokens = cached;
  const reasoning = asNumber(asObject(usage.output_tokens_details).reasoning_tokens);
  if (reasoning !== undefined) result.reasoningTokens = reasoning;
  return result;
}

export function writeResponsesUsage(usage: Usage): Json {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cacheReadTokens ?? 0 },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

// ── streams ─────────────────────────────────────────────────────────────────────────────

/** Responses events → stream events. */
export function responsesStreamDecoder(): StreamDecoder {
  const toolOrdinal = new Map<number, number>();
  let calls = 0;
  return {
    decode(eventName, data) {
      const event = parseEventData(data);
      if (!event) return [malformed()];
      const type = asString(event.type) ?? eventName;
      switch (type) {
        case "response.output_item.added": {
          if (!isObject(event.item)) return [malformed("item")];
          const item = event.item;
          if (item.type !== "function_call") return [];
          const ordinal = calls++;
          toolOrdinal.set(asNumber(event.output_index) ?? 0, ordinal);
          const id = asString(item.call_id);
          return [{ type: "tool_call", index: ordinal, ...(id ? { id } : {}), name: asString(item.name) ?? "", arguments: argumentsText(item.arguments) ?? "" }];
        }
        case "response.output_text.delta":
          return [{ type: "text", text: asString(event.delta) ?? "" }];
        case "response.refusal.delta":
          return [{ type: "refusal", text: asString(event.delta) ?? "" }];
        case "response.reasoning_summary_text.delta":
        case "response.reasoning_text.delta":
          return [{ type: "reasoning", text: asString(event.delta) ?? "" }];
        case "response.function_call_arguments.delta": {
          const ordinal = toolOrdinal.get(asNumber(event.output_index) ?? 0);
          const delta = asString(event.delta) ?? "";
          return ordinal !== undefined && delta ? [{ type: "tool_call", index: ordinal, arguments: delta }] : [];
        }
        case "response.completed":
        case "response.incomplete": {
          const response = asObject(event.response);
          const events: StreamEvent[] = [];
          if (response.usage) events.push({ type: "usage", usage: readResponsesUsage(asObject(response.usage)) });
          events.push({ type: "finish", reason: stopReasonOf(response, calls > 0) }, { type: "done" });
          return events;
        }
        case "response.failed":
          return [{ type: "error", message: errorText(asObject(event.response).error ?? "the response failed") }];
        case "error":
          return [{ type: "error", message: asString(event.message) ?? errorText(event.error ?? event) }];
        case "codex.rate_limits":
          return [{ type: "limits", data: event }];
        default:
          return [];
      }
    },
  };
}

/** A reasoning item that only carries a source's signature, in the slot Codex sends back (`include: reasoning.encrypted_content`). */
function sealedReasoning(id: string, signature: string): Json {
  return { id, type: "reasoning", summary: [], encrypted_content: signature };
}

type OpenItem =
  | { kind: "message"; id: string; output: number; text: string; part: "output_text" | "refusal" }
  | { kind: "reasoning"; id: string; output: number; text: string }
  | { kind: "function_call"; id: string; output: number; callId: string; name: string; arguments: string; tool: number };

/**
 * Stream events → Responses events: one output item open at a time, each opened, filled and
 * closed with the events the strict stream helpers expect, every event numbered, and a
 * terminal response.completed / .incomplete / .failed that carries the whole output.
 */
export function responsesStreamEncoder(context: ResponsesContext): StreamEncoder {
  let sequence = 0;
  let started = false;
  let open: OpenItem | null = null;
  const done: Json[] = [];
  const frame = (type: string, payload: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`;
  const itemId = (prefix: string) => `${prefix}_${context.id.replace(/^resp_/, "")}_${done.length + (open ? 1 : 0)}`;
  const start = () => {
    if (started) return "";
    started = true;
    const response = responseObject(context, "in_progress", [], null);
    return frame("response.created", { response }) + frame("response.in_progress", { response });
  };
  const closeItem = () => {
    const item = open;
    if (!item) return "";
    open = null;
    let out = "";
    let full: Json;
    if (item.kind === "message") {
      const part = item.part === "output_text" ? outputText(item.text) : { type: "refusal", refusal: item.text };
      out +=
        item.part === "output_text"
          ? frame("response.output_text.done", { item_id: item.id, output_index: item.output, content_index: 0, text: item.text, logprobs: [] })
          : frame("response.refusal.done", { item_id: item.id, output_index: item.output, content_index: 0, refusal: item.text });
      out += frame("response.content_part.done", { item_id: item.id, output_index: item.output, content_index: 0, part });
      full = { id: item.id, type: "message", status: "completed", role: "assistant", content: [part] };
    } else if (item.kind === "reasoning") {
      const part = { type: "summary_text", text: item.text };
      out += frame("response.reasoning_summary_text.done", { item_id: item.id, output_index: item.output, summary_index: 0, text: item.text });
      out += frame("response.reasoning_summary_part.done", { item_id: item.id, output_index: item.output, summary_index: 0, part });
      full = { id: item.id, type: "reasoning", summary: [part] };
    } else {
      // A zero-argument call still has whole JSON arguments.
      if (isBlank(item.arguments)) {
        item.arguments = "{}";
        out += frame("response.function_call_arguments.delta", { item_id: item.id, output_index: item.output, delta: "{}" });
      }
      out += frame("response.function_call_arguments.done", { item_id: item.id, output_index: item.output, name: item.name, arguments: item.arguments });
      full = { id: item.id, type: "function_call", status: "completed", call_id: item.callId, name: item.name, arguments: item.arguments };
    }
    done.push(full);
    return out + frame("response.output_item.done", { output_index: item.output, item: full });
  };
  const openMessage = (part: "output_text" | "refusal") => {
    const out = closeItem();
    const id = itemId("msg");
    const output = done.length;
    open = { kind: "message", id, output, text: "", part };
    return (
      out +
      frame("response.output_item.added", { output_index: output, item: { id, type: "message", status: "in_progress", role: "assistant", content: [] } }) +
      frame("response.content_part.added", { item_id: id, output_index: output, content_index: 0, part: part === "output_text" ? outputText("") : { type: "refusal", refusal: "" } })
    );
  };
  const terminal = (finish: StopReason, usage: Usage | null) => {
    const status = finish === "length" ? "incomplete" : "completed";
    return frame(`response.${status}`, { response: responseObject(context, status, done, usage) });
  };
  return {
    encode(event) {
      switch (event.type) {
        case "text":
        case "refusal": {
          if (!event.text) return "";
          const part = event.type === "text" ? "output_text" : "refusal";
          let out = start();
          if (open?.kind !== "message" || open.part !== part) out += openMessage(part);
          const item = open as Extract<OpenItem, { kind: "message" }>;
          item.text += event.text;
          return (
            out +
            (part === "output_text"
              ? frame("response.output_text.delta", { item_id: item.id, output_index: item.output, content_index: 0, delta: event.text, logprobs: [] })
              : frame("response.refusal.delta", { item_id: item.id, output_index: item.output, content_index: 0, delta: event.text }))
          );
        }
        case "reasoning": {
          if (!event.text) return "";
          let out = start();
          if (open?.kind !== "reasoning") {
            out += closeItem();
            const id = itemId("rs");
            const output = done.length;
            open = { kind: "reasoning", id, output, text: "" };
            out +=
              frame("response.output_item.added", { output_index: output, item: { id, type: "reasoning", summary: [] } }) +
              frame("response.reasoning_summary_part.added", { item_id: id, output_index: output, summary_index: 0, part: { type: "summary_text", text: "" } });
          }
          const item = open as Extract<OpenItem, { kind: "reasoning" }>;
          item.text += event.text;
          return out + frame("response.reasoning_summary_text.delta", { item_id: item.id, output_index: item.output, summary_index: 0, delta: event.text });
        }
        case "reasoning_signature": {
          if (!isGeminiSignature(event.signature)) return "";
          // Its own item, where it came: before the call (or text) it signs.
          let out = start() + closeItem();
          const item = sealedReasoning(itemId("rs"), event.signature);
          const output = done.length;
          done.push(item);
          out += frame("response.output_item.added", { output_index: output, item }) + frame("response.output_item.done", { output_index: output, item });
          return out;
        }
        case "tool_call": {
          let out = start();
          if (event.name !== undefined) {
            out += closeItem();
            const id = itemId("fc");
            const output = done.length;
            open = { kind: "function_call", id, output, callId: event.id ?? `call_${id}`, name: event.name, arguments: "", tool: event.index };
            out += frame("response.output_item.added", { output_index: output, item: { id, type: "function_call", status: "in_progress", call_id: open.callId, name: event.name, arguments: "" } });
          }
          if (event.arguments && open?.kind === "function_call" && open.tool === event.index) {
            open.arguments += event.arguments;
            out += frame("response.function_call_arguments.delta", { item_id: open.id, output_index: open.output, delta: event.arguments });
          }
          return out;
        }
        default:
          return "";
      }
    },
    close(finish, usage) {
      return start() + closeItem() + terminal(finish, usage);
    },
    fail(error) {
      const out = start();
      const code = error.code ?? "upstream_error";
      const message = error.message;
      return (
        out +
        frame("error", { code, message, param: null }) +
        frame("response.failed", { response: responseObject(context, "failed", done, null, { error: { code, message } }) })
      );
    },
  };
}
