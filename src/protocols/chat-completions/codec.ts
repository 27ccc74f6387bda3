// OpenAI Chat Completions ⇄ the intermediate representation: requests, whole responses and
// stream events. Pure functions and small state machines; no I/O.
import { badRequest } from "../../errors.ts";
import { hasContent, vanishingTurn } from "../fields.ts";
import { chatErrorFrame } from "./errors.ts";
import type { MediaSource, Message, Part, Request, Response, StopReason, StreamDecoder, StreamEncoder, StreamEvent, Tool, ToolChoice, Usage } from "../ir.ts";
import { argumentsText, isBlank, openaiEffort, settledStop, textOf, wholeArguments, withCallIds } from "../ir.ts";
import { asArray, asNumber, asObject, asString, isObject, type Json, malformed, parseEventData } from "../json.ts";

// ── requests ────────────────────────────────────────────────────────────────────────────

export function decodeChatRequest(body: Json): Request {
  const ir: Request = { model: asString(body.model) ?? "", system: [], messages: [], tools: [], stream: body.stream === true };
  let opening = true;
  for (const [i, raw] of asArray(body.messages).entries()) {
    const m = asObject(raw);
    const role = asString(m.role);
    if (role === "system" || role === "developer") {
      const text = contentText(m.content);
      if (opening) ir.system.push({ text });
      else ir.messages.push({ role: "system", content: [{ type: "text", text }] });
      continue;
    }
    opening = false;
    if (role === "user") {
      const content = decodeUserContent(m.content);
      if (content.length === 0 && hasContent(m.content)) throw vanishingTurn(`messages[${i}].content`, m.content);
      ir.messages.push({ role: "user", content });
    } else if (role === "assistant") {
      ir.messages.push({ role: "assistant", content: assistantParts(m) });
    } else if (role === "tool" || role === "function") {
      const callId = asString(m.tool_call_id) ?? asString(m.name);
      if (!callId) throw badRequest("messages: a tool message needs tool_call_id", "invalid_request", "messages");
      const result: Part = { type: "tool_result", callId, content: decodeUserContent(m.content).filter((p) => p.type === "text" || p.type === "image") };
      const last = ir.messages.at(-1);
      // Consecutive tool results answer one assistant turn: keep them in one user message.
      if (last?.role === "user" && last.content.every((p) => p.type === "tool_result")) last.content.push(result);
      else ir.messages.push({ role: "user", content: [result] });
    } else {
      throw badRequest(`messages: unknown role '${role}'`, "invalid_request", "messages");
    }
  }
  for (const raw of asArray(body.tools)) {
    const tool = asObject(raw);
    if (tool.type !== "function") continue;
    const fn = asObject(tool.function);
    ir.tools.push({ name: asString(fn.name) ?? "", description: asString(fn.description), parameters: asObject(fn.parameters), strict: typeof fn.strict === "boolean" ? fn.strict : undefined });
  }
  // The legacy `functions` / `function_call` spelling of tools, still sent by older clients.
  for (const raw of asArray(body.functions)) {
    const fn = asObject(raw);
    ir.tools.push({ name: asString(fn.name) ?? "", description: asString(fn.description), parameters: asObject(fn.parameters) });
  }
  ir.toolChoice = decodeToolChoice(body.tool_choice) ?? decodeToolChoice(body.function_call);
  if (typeof body.parallel_tool_calls === "boolean") ir.parallelToolCalls = body.parallel_tool_calls;
  ir.maxTokens = asNumber(body.max_completion_tokens) ?? asNumber(body.max_tokens);
  ir.temperature = asNumber(body.temperature);
  ir.topP = asNumber(body.top_p);
  ir.seed = asNumber(body.seed);
  ir.presencePenalty = asNumber(body.presence_penalty);
  ir.frequencyPenalty = asNumber(body.frequency_penalty);
  const stop = typeof body.stop === "string" ? [body.stop] : asArray(body.stop).filter((s): s is string => typeof s === "string");
  if (stop.length > 0) ir.stop = stop;
  const effort = asString(body.reasoning_effort);
  if (effort) ir.reasoning = { effort };
  const format = asObject(body.response_format);
  if (format.type === "json_schema") {
    const schema = asObject(format.json_schema);
    ir.responseFormat = { type: "json_schema", name: asString(schema.name), schema: schema.schema ?? {}, strict: typeof schema.strict === "boolean" ? schema.strict : undefined };
  } else if (format.type === "json_object") {
    ir.responseFormat = { type: "json_object" };
  }
  ir.user = asString(body.user);
  ir.verbosity = asString(body.verbosity);
  ir.safetyIdentifier = asString(body.safety_identifier);
  ir.promptCacheKey = asString(body.prompt_cache_key);
  ir.serviceTier = asString(body.service_tier);
  return ir;
}

function decodeToolChoice(value: unknown): ToolChoice | undefined {
  if (value === "auto" || value === "none" || value === "required") return { type: value };
  const name = asString(asObject(asObject(value).function).name) ?? asString(asObject(value).name);
  return name ? { type: "tool", name } : undefined;
}

function decodeUserContent(content: unknown): Part[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  const parts: Part[] = [];
  for (const raw of asArray(content)) {
    const p = asObject(raw);
    if (p.type === "text") parts.push({ type: "text", text: asString(p.text) ?? "" });
    // image_url is an object ({url}); some clients send the URL string itself.
    else if (p.type === "image_url") parts.push({ type: "image", source: mediaFromUrl(asString(p.image_url) ?? asString(asObject(p.image_url).url) ?? "") });
    else if (p.type === "file") {
      const file = asObject(p.file);
      const data = asString(file.file_data);
      if (data) parts.push({ type: "document", source: mediaFromUrl(data), filename: asString(file.filename) });
    }
  }
  return parts;
}

/** `data:` URLs become base64 sources; anything else stays a URL. */
export function mediaFromUrl(url: string): MediaSource {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return match ? { kind: "base64", mediaType: match[1]!, data: match[2]! } : { kind: "url", url };
}

export function mediaToUrl(source: MediaSource): string {
  return source.kind === "url" ? source.url : `data:${source.mediaType};base64,${source.data}`;
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((raw) => {
      const p = asObject(raw);
      return asString(p.text) ?? asString(p.refusal) ?? "";
    })
    .join("");
}

export interface ChatEncodeOptions {
  model: string;
  stream: boolean;
  tokenLimitField?: "max_tokens" | "max_completion_tokens";
  supportsStreamOptions?: boolean;
  /** Send earlier turns' reasoning as `reasoning_content` (DeepSeek and Kimi want it back with tool calls). */
  reasoningHistory?: boolean;
}

export function encodeChatRequest(ir: Request, options: ChatEncodeOptions): Json {
  const messages: Json[] = [];
  if (ir.system.length > 0) messages.push({ role: "system", content: ir.system.map((s) => s.text).join("\n") });
  for (const message of ir.messages) messages.push(...encodeChatMessage(message, options.reasoningHistory === true));
  const body: Json = { model: options.model, messages };
  if (ir.tools.length > 0) body.tools = ir.tools.map(encodeChatTool);
  if (ir.toolChoice) body.tool_choice = ir.toolChoice.type === "tool" ? { type: "function", function: { name: ir.toolChoice.name } } : ir.toolChoice.type;
  if (ir.parallelToolCalls !== undefined && ir.tools.length > 0) body.parallel_tool_calls = ir.parallelToolCalls;
  if (ir.maxTokens !== undefined) body[options.tokenLimitField ?? "max_tokens"] = ir.maxTokens;
  if (ir.temperature !== undefined) body.temperature = ir.temperature;
  if (ir.topP !== undefined) body.top_p = ir.topP;
  if (ir.stop) body.stop = ir.stop;
  if (ir.seed !== undefined) body.seed = ir.seed;
  if (ir.presencePenalty !== undefined) body.presence_penalty = ir.presencePenalty;
  if (ir.frequencyPenalty !== undefined) body.frequency_penalty = ir.frequencyPenalty;
  const effort = openaiEffort(ir.reasoning);
  if (effort) body.reasoning_effort = effort;
  if (ir.responseFormat?.type === "json_schema") {
    body.response_format = { type: "json_schema", json_schema: { name: ir.responseFormat.name ?? "response", schema: ir.responseFormat.schema, ...(ir.responseFormat.strict !== undefined ? { strict: ir.responseFormat.strict } : {}) } };
  } else if (ir.responseFormat) {
    body.response_format = { type: "json_object" };
  }
  if (ir.user) body.user = ir.user;
  if (ir.verbosity) body.verbosity = ir.verbosity;
  if (ir.safetyIdentifier) body.safety_identifier = ir.safetyIdentifier;
  if (ir.promptCacheKey) body.prompt_cache_key = ir.promptCacheKey;
  if (ir.serviceTier) body.service_tier = ir.serviceTier;
  if (options.stream) {
    body.stream = true;
    if (options.supportsStreamOptions !== false) body.stream_options = { include_usage: true };
  }
  return body;
}

function encodeChatMessage(message: Message, reasoningHistory: boolean): Json[] {
  if (message.role === "system") return [{ role: "system", content: textOf(message.content) }];
  if (message.role === "assistant") {
    const text = message.content
      .filter((p) => p.type === "text" || p.type === "refusal")
      .map((p) => (p as { text: string }).text)
      .join("");
    const calls = message.content.filter((p): p is Extract<Part, { type: "tool_call" }> => p.type === "tool_call");
    // Reasoning goes back only to models declared to reason: other Chat sources reject or ignore it.
    const reasoning = reasoningHistory ? message.content.filter((p) => p.type === "reasoning").map((p) => (p as { text: string }).text).join("") : "";
    // A turn with nothing left to send (only reasoning this source does not take) is left out,
    // rather than sent as an empty assistant turn the model would continue.
    if (text === "" && calls.length === 0 && reasoning === "") return [];
    const out: Json = { role: "assistant", content: text === "" && calls.length > 0 ? null : text };
    if (reasoning) out.reasoning_content = reasoning;
    if (calls.length > 0) out.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: wholeArguments(c.arguments) } }));
    return [out];
  }
  // A user turn: tool results become `tool` messages (they answer the previous assistant turn), the rest one user message.
  const out: Json[] = [];
  // A tool message holds text only: images a tool returned follow in a user message of their own.
  const resultMedia: Part[] = [];
  for (const part of message.content) {
    if (part.type !== "tool_result") continue;
    const text = textOf(part.content);
    out.push({ role: "tool", tool_call_id: part.callId, content: part.isError && text ? `Error: ${text}` : text });
    const media = part.content.filter((p) => p.type === "image" || p.type === "document");
    if (media.length > 0) resultMedia.push({ type: "text", text: `(attachments returned by tool call ${part.callId})` }, ...media);
  }
  const rest = [...resultMedia, ...message.content.filter((p) => p.type !== "tool_result")];
  if (rest.length > 0) {
    const simple = rest.every((p) => p.type === "text");
    // Text only: one string (every Chat server takes that), its parts apart by a blank line, as
    // separate blocks are (Claude Code's reminders, gemini-cli's context part): never glued.
    const joined = () => (rest as { text: string }[]).map((p) => p.text).filter((t) => t !== "").join("\n\n");
    out.push({ role: "user", content: simple ? joined() : rest.map(encodeChatPart).filter((p) => p !== null) });
  }
  return out;
}

function encodeChatPart(part: Part): Json | null {
  switch (part.type) {
    case "text":
      return { type: "text", text: part.text };
    case "image":
      return { type: "image_url", image_url: { url: mediaToUrl(part.source) } };
    case "document":
      if (part.source.kind === "text") return { type: "text", text: part.source.text };
      // Chat's file part carries data, never a link: a document by URL cannot be sent as it is.
      if (part.source.kind === "url") throw badRequest(`a document given by URL (${part.source.url.slice(0, 80)}) cannot be sent to a Chat Completions source; send its data (base64) instead`, "unsupported_parameter", "messages");
      return { type: "file", file: { file_data: mediaToUrl(part.source), ...(part.filename ? { filename: part.filename } : {}) } };
    default:
      return null;
  }
}

function encodeChatTool(tool: Tool): Json {
  return { type: "function", function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.parameters, ...(tool.strict !== undefined ? { strict: tool.strict } : {}) } };
}

/** An assistant message (in a request's history or a whole answer) as parts, in the order Chat implies. */
function assistantParts(message: Json): Part[] {
  const content: Part[] = [];
  const reasoning = asString(message.reasoning_content) ?? asString(message.reasoning);
  if (reasoning) content.push({ type: "reasoning", text: reasoning });
  const text = contentText(message.content);
  if (text) content.push({ type: "text", text });
  const refusal = asString(message.refusal);
  if (refusal) content.push({ type: "refusal", text: refusal });
  for (const raw of asArray(message.tool_calls)) {
    const call = asObject(raw);
    const fn = asObject(call.function);
    content.push({ type: "tool_call", id: asString(call.id) ?? "", name: asString(fn.name) ?? "", arguments: wholeArguments(argumentsText(fn.arguments) ?? "") });
  }
  return content;
}

// ── whole responses ─────────────────────────────────────────────────────────────────────

const FINISH_IN: Record<string, StopReason> = { stop: "stop", length: "length", tool_calls: "tool_calls", function_call: "tool_calls", content_filter: "content_filter" };
const FINISH_OUT: Record<StopReason, string> = { stop: "stop", length: "length", tool_calls: "tool_calls", content_filter: "content_filter", pause: "stop", error: "stop" };

export function decodeChatResponse(body: Json): Response {
  const choice = asObject(asArray(body.choices)[0]);
  const content = assistantParts(asObject(choice.message));
  const finish = asString(choice.finish_reason) ?? "stop";
  return {
    id: asString(body.id) ?? "",
    content,
    stopReason: content.some((p) => p.type === "refusal") ? "content_filter" : settledStop(FINISH_IN[finish] ?? "stop", content.some((p) => p.type === "tool_call")),
    usage: body.usage ? readChatUsage(asObject(body.usage)) : null,
  };
}

export interface ChatResponseContext {
  id: string;
  model: string;
  created: number;
}

export function encodeChatResponse(ir: Response, context: ChatResponseContext): Json {
  const message: Json = { role: "assistant", content: textOf(ir.content) || null };
  const reasoning = ir.content.filter((p) => p.type === "reasoning").map((p) => (p as { text: string }).text).join("");
  if (reasoning) message.reasoning_content = reasoning;
  const refusal = ir.content.find((p) => p.type === "refusal");
  message.refusal = refusal ? (refusal as { text: string }).text : null;
  const calls = withCallIds(ir.content, (n) => toolCallId(context.id, n)).filter((p): p is Extract<Part, { type: "tool_call" }> => p.type === "tool_call");
  if (calls.length > 0) message.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: wholeArguments(c.arguments) } }));
  if (message.content === null && calls.length === 0 && !refusal) message.content = "";
  return {
    id: context.id,
    object: "chat.completion",
    created: context.created,
    model: context.model,
    choices: [{ index: 0, message, finish_reason: FINISH_OUT[ir.stopReason], logprobs: null }],
    ...(ir.usage ? { usage: writeChatUsage(ir.usage) } : {}),
  };
}

/** Chat usage → ours (prompt tokens include cached ones, completion includes reasoning). */
export function readChatUsage(usage: Json): Usage {
  const prompt = asObject(usage.prompt_tokens_details);
  const completion = asObject(usage.completion_tokens_details);
  const result: Usage = { inputTokens: asNumber(usage.prompt_tokens) ?? 0, outputTokens: asNumber(usage.completion_tokens) ?? 0 };
  // A zero the source reported is a fact; a count it did not report stays absent.
  const cached = asNumber(prompt.cached_tokens);
  if (cached !== undefined) result.cacheReadTokens = cached;
  const cacheWrite = asNumber(prompt.cache_write_tokens) ?? asNumber(usage.cache_creation_input_tokens);
  if (cacheWrite !== undefined) result.cacheWriteTokens = cacheWrite;
  const reasoning = asNumber(completion.reasoning_tokens);
  if (reasoning !== undefined) result.reasoningTokens = reasoning;
  return result;
}

export function writeChatUsage(usage: Usage): Json {
  const out: Json = { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
  if (usage.cacheReadTokens !== undefined || usage.cacheWriteTokens !== undefined) {
    out.prompt_tokens_details = { cached_tokens: usage.cacheReadTokens ?? 0, ...(usage.cacheWriteTokens !== undefined ? { cache_write_tokens: usage.cacheWriteTokens } : {}) };
  }
  if (usage.reasoningTokens !== undefined) out.completion_tokens_details = { reasoning_tokens: usage.reasoningTokens };
  return out;
}

// ── streams ─────────────────────────────────────────────────────────────────────────────

/**
 * Chat chunks → stream events. Sources bend the format, so a tool call is found by its
 * `index` when it has one and by its `id` otherwise, and a different id that comes with a
 * name opens a new call even at the same index (Gemini's OpenAI-compatible endpoint and older
 * Ollama builds number none, or every call 0). A call opens once its name and id are known;
 * one whose id never comes opens when the next call starts or the answer finishes, and the
 * client's encoder names it.
 */
export function chatStreamDecoder(): StreamDecoder {
  interface Call {
    ordinal: number;
    id?: string;
    name?: string;
    pending: string;
    open: boolean;
    /** Arguments some sources send as objects, possibly in several deltas: merged, sent whole when the call ends. */
    objectArgs?: Record<string, unknown>;
  }
  const calls: Call[] = [];
  const atIndex = new Map<number, Call>();
  let last: Call | undefined;
  const opening = (call: Call, args: string): StreamEvent => {
    call.open = true;
    const event: StreamEvent = { type: "tool_call", index: call.ordinal, name: call.name ?? "", arguments: call.pending + args };
    if (call.id) event.id = call.id;
    call.pending = "";
    return event;
  };
  /** Opens every call still waiting for an id (a call that never got a name keeps an empty one, as whole answers do) and sends merged object arguments. */
  const settle = (events: StreamEvent[]) => {
    for (const call of calls) {
      if (!call.open) events.push(opening(call, ""));
      if (call.objectArgs) {
        events.push({ type: "tool_call", index: call.ordinal, arguments: JSON.stringify(call.objectArgs) });
        call.objectArgs = undefined;
      }
    }
  };
  return {
    decode(_event, data) {
      if (data === "[DONE]") {
        const events: StreamEvent[] = [];
        settle(events);
        events.push({ type: "done" });
        return events;
      }
      const chunk = parseEventData(data);
      if (!chunk) return [malformed()];
      if (chunk.error) return [{ type: "error", message: errorText(chunk.error) }];
      const events: StreamEvent[] = [];
      if (chunk.choices !== undefined && chunk.choices !== null && !Array.isArray(chunk.choices)) return [malformed("choices")];
      for (const raw of asArray(chunk.choices)) {
        if (!isObject(raw)) return [malformed("a choice")];
        const choice = raw;
        const delta = asObject(choice.delta);
        const reasoning = asString(delta.reasoning_content) ?? asString(delta.reasoning);
        if (reasoning) events.push({ type: "reasoning", text: reasoning });
        const content = asString(delta.content);
        if (content) events.push({ type: "text", text: content });
        const refusal = asString(delta.refusal);
        if (refusal) events.push({ type: "refusal", text: refusal });
        for (const rawCall of asArray(delta.tool_calls)) {
          const tc = asObject(rawCall);
          const index = asNumber(tc.index);
          const id = asString(tc.id) || undefined;
          let call = index !== undefined ? atIndex.get(index) : last;
          const fn = asObject(tc.function);
          // A name for a call that has one opens a new call: with a different id (even at the same
          // index), or with neither id nor index (sources that number nothing).
          const renamed = call !== undefined && asString(fn.name) !== undefined && call.name !== undefined;
          if (!call || (renamed && (id !== undefined ? call.id !== undefined && id !== call.id : index === undefined))) {
            settle(events);
            call = { ordinal: calls.length, pending: "", open: false };
            calls.push(call);
            if (index !== undefined) atIndex.set(index, call);
          }
          last = call;
          if (id !== undefined && call.id === undefined) call.id = id;
          if (asString(fn.name) && !call.name) call.name = asString(fn.name);
          if (isObject(fn.arguments)) call.objectArgs = { ...call.objectArgs, ...fn.arguments };
          const args = asString(fn.arguments) ?? "";
          if (call.open) {
            // Fragments of an earlier call after a later one opened cannot be expressed in
            // Messages or Responses streams (one block at a time): an honest failure, not a corrupt call.
            if (args && call !== calls.at(-1)) return [{ type: "error", message: "the source interleaved the arguments of two tool calls, which the client's protocol cannot express" }];
            if (args) events.push({ type: "tool_call", index: call.ordinal, arguments: args });
          } else if (call.name && call.id) {
            events.push(opening(call, args));
          } else {
            call.pending += args;
          }
        }
        const finish = asString(choice.finish_reason);
        if (finish) {
          settle(events);
          events.push({ type: "finish", reason: settledStop(FINISH_IN[finish] ?? "stop", calls.length > 0) });
        }
      }
      if (chunk.usage && typeof chunk.usage === "object") events.push({ type: "usage", usage: readChatUsage(asObject(chunk.usage)) });
      return events;
    },
  };
}

export interface ChatStreamContext extends ChatResponseContext {
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
}

/** Stream events → Chat chunks, opening with the role chunk and closing with [DONE]. */
export function chatStreamEncoder(context: ChatStreamContext): StreamEncoder {
  let started = false;
  let finished = false;
  /** The open tool call that has had no argument text yet: it gets `{}` when it ends. */
  let bare: number | undefined;
  const frame = (choices: Json[], extra: Json = {}) =>
    `data: ${JSON.stringify({ id: context.id, object: "chat.completion.chunk", created: context.created, model: context.model, choices, ...extra })}\n\n`;
  const delta = (d: Json, finish: string | null = null) => frame([{ index: 0, delta: d, finish_reason: finish }]);
  const start = () => {
    if (started) return "";
    started = true;
    return delta({ role: "assistant", content: "" });
  };
  const settleCall = () => {
    if (bare === undefined) return "";
    const index = bare;
    bare = undefined;
    return delta({ tool_calls: [{ index, function: { arguments: "{}" } }] });
  };
  return {
    encode(event) {
      switch (event.type) {
        case "text":
          return start() + delta({ content: event.text });
        case "reasoning":
          return start() + delta({ reasoning_content: event.text });
        case "refusal":
          return start() + delta({ refusal: event.text });
        case "tool_call": {
          let out = start();
          if (event.name !== undefined) {
            out += settleCall();
            const id = event.id ?? toolCallId(context.id, event.index);
            out += delta({ tool_calls: [{ index: event.index, id, type: "function", function: { name: event.name, arguments: event.arguments } }] });
            bare = isBlank(event.arguments) ? event.index : undefined;
            return out;
          }
          if (bare === event.index && !isBlank(event.arguments)) bare = undefined;
          return out + delta({ tool_calls: [{ index: event.index, function: { arguments: event.arguments } }] });
        }
        case "finish":
          if (finished) return "";
          finished = true;
          return start() + settleCall() + delta({}, FINISH_OUT[event.reason]);
        default:
          return "";
      }
    },
    close(finish, usage) {
      let out = start() + settleCall();
      if (!finished) {
        finished = true;
        out += delta({}, FINISH_OUT[finish]);
      }
      if (context.includeUsage && usage) out += frame([], { usage: writeChatUsage(usage) });
      return `${out}data: [DONE]\n\n`;
    },
    fail(error) {
      return chatErrorFrame(error);
    },
  };
}

/** An id for a tool call whose source gave none: unique per answer, stable for its ordinal. */
export function toolCallId(answerId: string, ordinal: number): string {
  return `call_${answerId.replace(/[^A-Za-z0-9]/g, "").slice(-24)}_${ordinal}`;
}

export function errorText(error: unknown): string {
  if (typeof error === "string") return error.slice(0, 300);
  const message = asString(asObject(error).message);
  return message ? message.slice(0, 300) : "unknown error";
}
