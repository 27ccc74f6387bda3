// Anthropic Messages ⇄ the intermediate representation: requests, whole responses and stream
// events. Anthropic's input_tokens excludes cached tokens; ours includes them.
import type { BitRouterError } from "../../errors.ts";
import type { MediaSource, Message, Part, Request, Response, StopReason, StreamDecoder, StreamEncoder, StreamEvent, Tool, ToolChoice, Usage } from "../ir.ts";
import { isGeminiSignature, mergeUsage, parseArguments, settledStop, withCallIds } from "../ir.ts";
import { asArray, asNumber, asObject, asString, isObject, type Json, malformed, parseEventData } from "../json.ts";
import { errorText } from "../chat-completions/codec.ts";
import { hasContent, vanishingTurn } from "../fields.ts";

/** Anthropic requires max_tokens; this is what a request without one gets (as the original did). */
export const DEFAULT_MAX_TOKENS = 4096;

// ── requests ────────────────────────────────────────────────────────────────────────────

export function decodeMessagesRequest(body: Json): Request {
  const ir: Request = { model: asString(body.model) ?? "", system: [], messages: [], tools: [], stream: body.stream === true };
  if (typeof body.system === "string") ir.system.push({ text: body.system });
  for (const raw of asArray(body.system)) {
    const block = asObject(raw);
    const text = asString(block.text) ?? "";
    // Claude Code's billing line is metadata for Anthropic, not instructions for another model.
    if (block.type !== "text" || text.startsWith("x-anthropic-billing-header:")) continue;
    ir.system.push({ text, ...(block.cache_control ? { cacheControl: block.cache_control } : {}) });
  }
  for (const [i, raw] of asArray(body.messages).entries()) {
    const m = asObject(raw);
    const role = m.role === "assistant" ? "assistant" : m.role === "system" ? "system" : "user";
    const content = decodeBlocks(m.content);
    // Only a user turn is refused: an assistant turn of Anthropic-only blocks (server tools) may go.
    if (role === "user" && content.length === 0 && hasContent(m.content)) throw vanishingTurn(`messages[${i}].content`, m.content);
    ir.messages.push({ role, content });
  }
  for (const raw of asArray(body.tools)) {
    const tool = asObject(raw);
    // Versioned server tools (web_search_20250305, bash_…) have no form outside Anthropic.
    if (tool.type !== undefined && tool.type !== "custom") continue;
    ir.tools.push({
      name: asString(tool.name) ?? "",
      description: asString(tool.description),
      parameters: asObject(tool.input_schema),
      ...(tool.cache_control ? { cacheControl: tool.cache_control } : {}),
    });
  }
  const choice = asObject(body.tool_choice);
  const choiceType = asString(choice.type);
  if (choiceType === "auto" || choiceType === "none") ir.toolChoice = { type: choiceType };
  else if (choiceType === "any") ir.toolChoice = { type: "required" };
  else if (choiceType === "tool") ir.toolChoice = { type: "tool", name: asString(choice.name) ?? "" };
  if (choice.disable_parallel_tool_use === true) ir.parallelToolCalls = false;
  ir.maxTokens = asNumber(body.max_tokens);
  ir.temperature = asNumber(body.temperature);
  ir.topP = asNumber(body.top_p);
  ir.topK = asNumber(body.top_k);
  const stop = asArray(body.stop_sequences).filter((s): s is string => typeof s === "string");
  if (stop.length > 0) ir.stop = stop;
  const thinking = asObject(body.thinking);
  const effort = asString(asObject(body.output_config).effort);
  if (thinking.type === "enabled" || thinking.type === "adaptive" || effort) {
    ir.reasoning = { ...(effort ? { effort } : {}), ...(asNumber(thinking.budget_tokens) ? { budgetTokens: asNumber(thinking.budget_tokens) } : {}) };
    if (!ir.reasoning.effort && !ir.reasoning.budgetTokens) ir.reasoning.effort = "medium";
  }
  // Structured output: output_config.format, or the beta spelling output_format.
  const format = asObject(asObject(body.output_config).format ?? body.output_format);
  if (format.type === "json_schema") ir.responseFormat = { type: "json_schema", schema: format.schema ?? {}, strict: true };
  const userId = asString(asObject(body.metadata).user_id);
  if (userId) ir.user = userId;
  return ir;
}

function decodeBlocks(content: unknown): Part[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  const parts: Part[] = [];
  for (const raw of asArray(content)) {
    const b = asObject(raw);
    const cache = b.cache_control ? { cacheControl: b.cache_control } : {};
    switch (b.type) {
      case "text":
        parts.push({ type: "text", text: asString(b.text) ?? "", ...cache });
        break;
      case "image":
        parts.push({ type: "image", source: decodeSource(asObject(b.source)), ...cache });
        break;
      case "document": {
        const source = asObject(b.source);
        parts.push({
          type: "document",
          source: source.type === "text" ? { kind: "text", text: asString(source.data) ?? "" } : decodeSource(source),
          ...(asString(b.title) ? { filename: asString(b.title) } : {}),
          ...cache,
        });
        break;
      }
      case "tool_use":
        parts.push({ type: "tool_call", id: asString(b.id) ?? "", name: asString(b.name) ?? "", arguments: JSON.stringify(b.input ?? {}) });
        break;
      case "tool_result":
        parts.push({
          type: "tool_result",
          callId: asString(b.tool_use_id) ?? "",
          // Blocks or a string; a bare JSON value (some clients) is sent on as its JSON text.
          content: b.content === undefined || b.content === null || typeof b.content === "string" || Array.isArray(b.content) ? decodeBlocks(b.content ?? "").filter((p) => p.type === "text" || p.type === "image") : [{ type: "text", text: JSON.stringify(b.content) }],
          ...(b.is_error === true ? { isError: true } : {}),
          ...cache,
        });
        break;
      case "thinking":
        parts.push({ type: "reasoning", text: asString(b.thinking) ?? "", ...(asString(b.signature) ? { signature: asString(b.signature) } : {}) });
        break;
      case "redacted_thinking":
        parts.push({ type: "reasoning", text: "", redactedData: asString(b.data) ?? "" });
        break;
    }
  }
  return parts;
}

function decodeSource(source: Json): MediaSource {
  if (source.type === "url") return { kind: "url", url: asString(source.url) ?? "" };
  return { kind: "base64", mediaType: asString(source.media_type) ?? "application/octet-stream", data: asString(source.data) ?? "" };
}

function encodeSource(source: MediaSource): Json {
  return source.kind === "url" ? { type: "url", url: source.url } : { type: "base64", media_type: source.mediaType, data: source.data };
}

/** Efforts Messages accepts (output_config.effort); OpenAI's others map to the nearest. */
const EFFORT: Record<string, string> = { none: "low", minimal: "low", low: "low", medium: "medium", high: "high", xhigh: "max", max: "max" };

export function encodeMessagesRequest(ir: Request, options: { model: string; stream: boolean }): Json {
  const body: Json = { model: options.model, max_tokens: ir.maxTokens ?? DEFAULT_MAX_TOKENS };
  if (ir.system.length > 0) {
    body.system = ir.system.some((s) => s.cacheControl)
      ? ir.system.map((s) => ({ type: "text", text: s.text, ...(s.cacheControl ? { cache_control: s.cacheControl } : {}) }))
      : ir.system.map((s) => s.text).join("\n");
  }
  body.messages = ir.messages.map(encodeMessage).filter((m): m is Json => m !== null);
  if (ir.tools.length > 0) body.tools = ir.tools.map(encodeTool);
  const choice = encodeToolChoice(ir.toolChoice, ir.parallelToolCalls);
  if (choice && ir.tools.length > 0) body.tool_choice = choice;
  // Messages takes 0–1 where OpenAI's APIs take 0–2.
  if (ir.temperature !== undefined) body.temperature = Math.min(1, Math.max(0, ir.temperature));
  if (ir.topP !== undefined) body.top_p = ir.topP;
  if (ir.topK !== undefined) body.top_k = ir.topK;
  if (ir.stop) body.stop_sequences = ir.stop;
  if (ir.reasoning?.budgetTokens) body.thinking = { type: "enabled", budget_tokens: ir.reasoning.budgetTokens };
  const outputConfig: Json = {};
  if (ir.reasoning?.effort) outputConfig.effort = EFFORT[ir.reasoning.effort] ?? "medium";
  if (ir.responseFormat?.type === "json_schema") outputConfig.format = { type: "json_schema", schema: ir.responseFormat.schema };
  if (Object.keys(outputConfig).length > 0) body.output_config = outputConfig;
  if (ir.user) body.metadata = { user_id: ir.user };
  if (options.stream) body.stream = true;
  return body;
}

/** Anthropic's pattern for tool_use ids is ^[a-zA-Z0-9_-]+$; other sources' ids (`functions.Bash:0`) are mapped, the same way each time so that calls and results stay paired. */
export function anthropicToolId(id: string): string {
  const clean = id.replace(/[^a-zA-Z0-9_-]/g, "_");
  return clean === "" ? "toolu_" : clean;
}

/** The image types Messages accepts; common misspellings are corrected. */
function anthropicMediaType(mediaType: string): string {
  const type = mediaType.trim().toLowerCase();
  return type === "image/jpg" || type === "image/pjpeg" ? "image/jpeg" : type;
}

function encodeMessage(message: Message): Json | null {
  const content = message.content.map(encodePart).filter((b): b is Json => b !== null);
  if (content.length === 0) return null;
  return { role: message.role, content };
}

function encodePart(part: Part): Json | null {
  const cache = "cacheControl" in part && part.cacheControl ? { cache_control: part.cacheControl } : {};
  switch (part.type) {
    case "text":
      // Messages refuses text blocks that are empty or only whitespace.
      return part.text.trim() === "" ? null : { type: "text", text: part.text, ...cache };
    case "refusal":
      return part.text.trim() === "" ? null : { type: "text", text: part.text };
    case "image":
      return { type: "image", source: encodeSource(part.source.kind === "base64" ? { ...part.source, mediaType: anthropicMediaType(part.source.mediaType) } : part.source), ...cache };
    case "document":
      return {
        type: "document",
        source: part.source.kind === "text" ? { type: "text", media_type: "text/plain", data: part.source.text } : encodeSource(part.source),
        ...(part.filename ? { title: part.filename } : {}),
        ...cache,
      };
    case "tool_call":
      return { type: "tool_use", id: anthropicToolId(part.id), name: part.name, input: parseArguments(part.arguments) };
    case "tool_result": {
      const content = part.content.map(encodePart).filter((b): b is Json => b !== null);
      return { type: "tool_result", tool_use_id: anthropicToolId(part.callId), content: content.length > 0 ? content : "", ...(part.isError ? { is_error: true } : {}), ...cache };
    }
    case "reasoning":
      // Only signed thinking goes back to Anthropic; unsigned reasoning from elsewhere would be refused.
      if (part.redactedData) return { type: "redacted_thinking", data: part.redactedData };
      // Only Anthropic's own signatures go back to it; Gemini's would be refused.
      return part.signature && !isGeminiSignature(part.signature) ? { type: "thinking", thinking: part.text, signature: part.signature } : null;
  }
}

function encodeTool(tool: Tool): Json {
  return { name: tool.name, ...(tool.description ? { description: tool.description } : {}), input_schema: { type: "object", ...tool.parameters }, ...(tool.cacheControl ? { cache_control: tool.cacheControl } : {}) };
}

function encodeToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): Json | undefined {
  const base: Json | undefined =
    choice?.type === "tool" ? { type: "tool", name: choice.name } : choice?.type === "required" ? { type: "any" } : choice ? { type: choice.type } : undefined;
  if (parallel === false) return { ...(base ?? { type: "auto" }), disable_parallel_tool_use: true };
  return base;
}

// ── whole responses ─────────────────────────────────────────────────────────────────────

const STOP_IN: Record<string, StopReason> = { end_turn: "stop", stop_sequence: "stop", max_tokens: "length", tool_use: "tool_calls", refusal: "content_filter", pause_turn: "pause" };
const STOP_OUT: Record<StopReason, string> = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use", content_filter: "refusal", pause: "pause_turn", error: "end_turn" };

export function decodeMessagesResponse(body: Json): Response {
  return {
    id: asString(body.id) ?? "",
    content: decodeBlocks(body.content),
    stopReason: settledStop(STOP_IN[asString(body.stop_reason) ?? "end_turn"] ?? "stop", asArray(body.content).some((b) => asObject(b).type === "tool_use")),
    usage: body.usage ? readMessagesUsage(asObject(body.usage)) : null,
  };
}

/**
 * An answer's blocks for a Messages client. A Gemini signature is the client's to keep and send
 * back (it never reaches Anthropic: encodePart drops it there): it closes a thinking block with
 * the thoughts before it, as the stream encoder writes it. Unsigned thoughts are left out.
 */
function answerBlocks(content: Part[]): Json[] {
  const blocks: Json[] = [];
  let thoughts = "";
  for (const part of content) {
    if (part.type === "reasoning" && !part.redactedData && !part.signature) {
      thoughts += part.text;
      continue;
    }
    if (part.type === "reasoning" && isGeminiSignature(part.signature)) {
      blocks.push({ type: "thinking", thinking: thoughts + part.text, signature: part.signature });
      thoughts = "";
      continue;
    }
    const block = encodePart(part);
    if (block) blocks.push(block);
  }
  return blocks;
}

export function encodeMessagesResponse(ir: Response, context: { id: string; model: string }): Json {
  return {
    id: context.id,
    type: "message",
    role: "assistant",
    model: context.model,
    content: answerBlocks(withCallIds(ir.content, (n) => `toolu_${context.id.replace(/^msg_/, "").slice(-24)}_${n}`)),
    stop_reason: STOP_OUT[ir.stopReason],
    stop_sequence: null,
    usage: writeMessagesUsage(ir.usage),
  };
}

export function readMessagesUsage(usage: Json): Usage {
  return { inputTokens: 0, outputTokens: 0, ...readPartialUsage(usage) };
}

/** Partial usage from a stream event: only the counters present. */
function readPartialUsage(usage: Json): Partial<Usage> {
  const out: Partial<Usage> = {};
  const cacheRead = asNumber(usage.cache_read_input_tokens);
  const cacheWrite = asNumber(usage.cache_creation_input_tokens);
  const input = asNumber(usage.input_tokens);
  if (input !== undefined) out.inputTokens = input + (cacheRead ?? 0) + (cacheWrite ?? 0);
  if (asNumber(usage.output_tokens) !== undefined) out.outputTokens = asNumber(usage.output_tokens);
  // A zero the source reported is a fact; a count it did not report stays absent.
  if (cacheRead !== undefined) out.cacheReadTokens = cacheRead;
  if (cacheWrite !== undefined) out.cacheWriteTokens = cacheWrite;
  return out;
}

export function writeMessagesUsage(usage: Usage | null): Json {
  const u = usage ?? { inputTokens: 0, outputTokens: 0 };
  const cacheRead = u.cacheReadTokens ?? 0;
  const cacheWrite = u.cacheWriteTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.inputTokens - cacheRead - cacheWrite),
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
}

// ── streams ─────────────────────────────────────────────────────────────────────────────

/** Messages events → stream events. */
export function messagesStreamDecoder(): StreamDecoder {
  const toolOrdinal = new Map<number, number>();
  let calls = 0;
  return {
    decode(eventName, data) {
      const event = parseEventData(data);
      if (!event) return [malformed()];
      const type = asString(event.type) ?? eventName;
      switch (type) {
        case "message_start":
          return [{ type: "usage", usage: readPartialUsage(asObject(asObject(event.message).usage)) }];
        case "content_block_start": {
          if (!isObject(event.content_block)) return [malformed("content_block")];
          const block = event.content_block;
          const index = asNumber(event.index) ?? 0;
          if (block.type === "tool_use") {
            const ordinal = calls++;
            toolOrdinal.set(index, ordinal);
            const id = asString(block.id);
            return [{ type: "tool_call", index: ordinal, ...(id ? { id } : {}), name: asString(block.name) ?? "", arguments: "" }];
          }
          if (block.type === "redacted_thinking") return [{ type: "redacted_reasoning", data: asString(block.data) ?? "" }];
          if (block.type === "text" && asString(block.text)) return [{ type: "text", text: asString(block.text)! }];
          return [];
        }
        case "content_block_delta": {
          if (!isObject(event.delta)) return [malformed("delta")];
          const delta = event.delta;
          const index = asNumber(event.index) ?? 0;
          switch (delta.type) {
            case "text_delta":
              return [{ type: "text", text: asString(delta.text) ?? "" }];
            case "thinking_delta":
              return [{ type: "reasoning", text: asString(delta.thinking) ?? "" }];
            case "signature_delta":
              return [{ type: "reasoning_signature", signature: asString(delta.signature) ?? "" }];
            case "input_json_delta": {
              const partial = asString(delta.partial_json) ?? "";
              const ordinal = toolOrdinal.get(index);
              return partial && ordinal !== undefined ? [{ type: "tool_call", index: ordinal, arguments: partial }] : [];
            }
            default:
              return [];
          }
        }
        case "message_delta": {
          const events: StreamEvent[] = [];
          const stop = asString(asObject(event.delta).stop_reason);
          if (stop) events.push({ type: "finish", reason: settledStop(STOP_IN[stop] ?? "stop", calls > 0) });
          if (event.usage) events.push({ type: "usage", usage: readPartialUsage(asObject(event.usage)) });
          return events;
        }
        case "message_stop":
          return [{ type: "done" }];
        case "error":
          return [{ type: "error", message: errorText(event.error) }];
        default:
          return [];
      }
    },
  };
}

export interface MessagesStreamContext {
  id: string;
  model: string;
  /**
   * Input tokens for `message_start` when the source has reported none by then (Chat and
   * Responses sources report usage at the end): BitRouter's own estimate. Some clients
   * (LangChain's ChatAnthropic) read input tokens only there; the source's exact counts
   * follow in `message_delta`, as Anthropic's own streams carry them.
   */
  estimatedInputTokens?: () => number;
}

/**
 * Stream events → Messages events, each with its `event:` line. Reasoning is sent only when
 * it is signed (it can only go back to Anthropic so); unsigned reasoning from other sources
 * is dropped, as the original does.
 */
export function messagesStreamEncoder(context: MessagesStreamContext): StreamEncoder {
  let started = false;
  let known: Usage | null = null;
  let index = -1;
  let open: { kind: "text" | "thinking" | "tool"; tool?: number } | null = null;
  let thinking = "";
  const frame = (type: string, payload: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  const start = () => {
    if (started) return "";
    started = true;
    const usage = known ?? { inputTokens: context.estimatedInputTokens?.() ?? 0, outputTokens: 0 };
    return frame("message_start", {
      message: { id: context.id, type: "message", role: "assistant", model: context.model, content: [], stop_reason: null, stop_sequence: null, usage: writeMessagesUsage({ ...usage, outputTokens: 0 }) },
    });
  };
  const close = () => {
    if (!open) return "";
    open = null;
    return frame("content_block_stop", { index });
  };
  const openBlock = (kind: "text" | "thinking" | "tool", block: Json, tool?: number) => {
    const out = close();
    index++;
    open = { kind, tool };
    return out + frame("content_block_start", { index, content_block: block });
  };
  return {
    encode(event) {
      switch (event.type) {
        case "text":
        case "refusal": {
          if (!event.text) return "";
          const head = start() + (open?.kind === "text" ? "" : openBlock("text", { type: "text", text: "" }));
          return head + frame("content_block_delta", { index, delta: { type: "text_delta", text: event.text } });
        }
        case "reasoning":
          thinking += event.text;
          return start();
        case "reasoning_signature": {
          const out = start() + openBlock("thinking", { type: "thinking", thinking: "", signature: "" });
          const text = thinking;
          thinking = "";
          return (
            out +
            (text ? frame("content_block_delta", { index, delta: { type: "thinking_delta", thinking: text } }) : "") +
            frame("content_block_delta", { index, delta: { type: "signature_delta", signature: event.signature } })
          );
        }
        case "redacted_reasoning":
          return start() + openBlock("thinking", { type: "redacted_thinking", data: event.data });
        case "tool_call": {
          let out = start();
          if (event.name !== undefined) {
            thinking = "";
            const id = anthropicToolId(event.id ?? `toolu_${context.id.replace(/^msg_/, "").slice(-24)}_${event.index}`);
            out += openBlock("tool", { type: "tool_use", id, name: event.name, input: {} }, event.index);
          }
          if (event.arguments) out += frame("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: event.arguments } });
          return out;
        }
        case "usage":
          // Counts the source sent before the first content event can still open the stream truthfully.
          if (!started) known = mergeUsage(known, event.usage);
          return "";
        default:
          return "";
      }
    },
    close(finish, usage) {
      return (
        start() +
        close() +
        frame("message_delta", { delta: { stop_reason: STOP_OUT[finish], stop_sequence: null }, usage: usage ? writeMessagesUsage(usage) : { output_tokens: 0 } }) +
        frame("message_stop", {})
      );
    },
    fail(error) {
      return start() + messagesErrorFrame(error);
    },
  };
}

/** After commit a Messages stream ends with `event: error` (SPEC §8). */
export function messagesErrorFrame(error: BitRouterError): string {
  return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: anthropicErrorType(error.status), message: error.message } })}\n\n`;
}

/** Anthropic's error body for a status (used for in-stream error frames and rendered errors). */
function anthropicErrorType(status: number): string {
  if (status === 400 || status === 422) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529 || status === 503) return "overloaded_error";
  return "api_error";
}
