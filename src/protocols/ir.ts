// The intermediate representation every wire protocol is translated through. Codecs take
// values and return values: a request, a whole response, or a stream of events. Field names
// here are ours (camelCase); wire names live only in the codecs.
import type { BitRouterError } from "../errors.ts";
import { asObject } from "./json.ts";

export type StopReason = "stop" | "length" | "tool_calls" | "content_filter" | "pause" | "error";

/** Token counts in Chat's reading: input includes cached tokens, output includes reasoning. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

export type MediaSource = { kind: "url"; url: string } | { kind: "base64"; mediaType: string; data: string };

export type Part =
  | { type: "text"; text: string; cacheControl?: unknown }
  | { type: "image"; source: MediaSource; cacheControl?: unknown }
  | { type: "document"; source: MediaSource | { kind: "text"; text: string }; filename?: string; cacheControl?: unknown }
  /**
   * Thinking. `signature` is Anthropic's (meaningful only back to Anthropic), or Gemini's marked
   * GEMINI_SIGNATURE (only back to Gemini); `redactedData` is Anthropic's.
   */
  | { type: "reasoning"; text: string; signature?: string; redactedData?: string }
  /** `arguments` is JSON text, kept verbatim. */
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "tool_result"; callId: string; content: Part[]; isError?: boolean; cacheControl?: unknown }
  | { type: "refusal"; text: string };

/**
 * The mark on a reasoning signature that came from Gemini: it may go back only to Gemini
 * (Anthropic refuses a signature it did not issue, and the reverse).
 */
export const GEMINI_SIGNATURE = "gemini:";

/** A signature Gemini issued (and that may go back only to Gemini). */
export function isGeminiSignature(signature: unknown): signature is string {
  return typeof signature === "string" && signature.startsWith(GEMINI_SIGNATURE);
}

export interface Message {
  /** "system" only for turns in the middle of a conversation; the opening prompt is Request.system. */
  role: "user" | "assistant" | "system";
  content: Part[];
}

export interface Tool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
  strict?: boolean;
  cacheControl?: unknown;
}

export type ToolChoice = { type: "auto" } | { type: "none" } | { type: "required" } | { type: "tool"; name: string };

export interface Request {
  model: string;
  system: { text: string; cacheControl?: unknown }[];
  messages: Message[];
  tools: Tool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Effort ("low" | "medium" | "high" | …) and/or an explicit thinking budget. */
  reasoning?: { effort?: string; budgetTokens?: number };
  responseFormat?: { type: "json_schema"; name?: string; schema: unknown; strict?: boolean } | { type: "json_object" };
  /** An end-user id (Chat/Responses `user`, Messages `metadata.user_id`). */
  user?: string;
  /** OpenAI-only hints carried between Chat and Responses. */
  verbosity?: string;
  safetyIdentifier?: string;
  promptCacheKey?: string;
  serviceTier?: string;
  stream: boolean;
}

export interface Response {
  id: string;
  content: Part[];
  stopReason: StopReason;
  usage: Usage | null;
}

/**
 * One step of a streamed answer. A tool call is identified by `index` (its order among the
 * answer's tool calls); the event that opens it carries `id` and `name`.
 */
export type StreamEvent =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "reasoning_signature"; signature: string }
  | { type: "redacted_reasoning"; data: string }
  | { type: "tool_call"; index: number; id?: string; name?: string; arguments: string }
  | { type: "refusal"; text: string }
  /** Counts known so far; later values replace earlier ones field by field. */
  | { type: "usage"; usage: Partial<Usage> }
  | { type: "finish"; reason: StopReason }
  /** An in-band error from the source. */
  | { type: "error"; message: string }
  /** The source's own end marker ([DONE], message_stop, response.completed). */
  | { type: "done" }
  /** A plan's quota windows, stated in-band (Codex's `codex.rate_limits`): read, never relayed. */
  | { type: "limits"; data: Record<string, unknown> };

/** Reads one upstream event (SSE `event:` name and `data:`) into stream events. */
export interface StreamDecoder {
  decode(event: string | undefined, data: string): StreamEvent[];
}

/** Writes stream events as client frames. `close` ends a stream that went well, `fail` one that did not. */
export interface StreamEncoder {
  encode(event: StreamEvent): string;
  close(finish: StopReason, usage: Usage | null): string;
  fail(error: BitRouterError): string;
}

export function mergeUsage(into: Usage | null, partial: Partial<Usage>): Usage {
  const merged: Usage = { inputTokens: 0, outputTokens: 0, ...(into ?? {}) };
  for (const [key, value] of Object.entries(partial) as [keyof Usage, number | undefined][]) {
    if (typeof value === "number" && Number.isFinite(value)) merged[key] = value;
  }
  return merged;
}

/** A content token: what commits a stream. */
export function isContent(event: StreamEvent): boolean {
  switch (event.type) {
    case "text":
    case "reasoning":
    case "refusal":
      return event.text.length > 0;
    case "tool_call":
      return true;
    case "redacted_reasoning":
      return true;
    default:
      return false;
  }
}

export function textOf(parts: Part[]): string {
  return parts
    .filter((p): p is Extract<Part, { type: "text" }> => p.type === "text")
    .map((p) => p.text)
    .join("");
}

/**
 * An answer's tool calls, each with an id: a source that sent none (some OpenAI-compatible
 * servers) gets `make(ordinal)`, unique within the answer, so results can be matched back.
 */
export function withCallIds(content: Part[], make: (ordinal: number) => string): Part[] {
  let ordinal = 0;
  return content.map((p) => (p.type === "tool_call" ? (p.id ? (ordinal++, p) : { ...p, id: make(ordinal++) }) : p));
}

/** Arguments text with nothing in it (a zero-argument call, as some sources send it). */
export function isBlank(text: string): boolean {
  return !/\S/.test(text);
}

/** Tool-call arguments as a whole JSON object's text: nothing (a zero-argument call) is `{}`. */
export function wholeArguments(text: string): string {
  return isBlank(text) ? "{}" : text;
}

/** Arguments a source sent as an object instead of JSON text (some OpenAI-compatible servers do). */
export function argumentsText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return undefined;
}

/**
 * The stop reason that matches the answer: a turn that called tools and says "stop" (some Chat
 * sources do) is a tool-call stop, since clients run tools only on that; one that says tool
 * calls but made none is a plain stop.
 */
export function settledStop(reason: StopReason, calledTools: boolean): StopReason {
  if (calledTools && reason === "stop") return "tool_calls";
  if (!calledTools && reason === "tool_calls") return "stop";
  return reason;
}

/** Arguments text → object for protocols that want one (invalid JSON → {}). */
export function parseArguments(text: string): Record<string, unknown> {
  try {
    return asObject(JSON.parse(text || "{}"));
  } catch {
    return {};
  }
}

/** An effort level for a thinking budget: for protocols that speak only efforts. */
export function effortForBudget(budget: number): string {
  return budget <= 2048 ? "low" : budget <= 8192 ? "medium" : "high";
}

/** Efforts OpenAI's APIs accept everywhere; Anthropic's `max` becomes the highest of them. */
const OPENAI_EFFORT: Record<string, string> = { none: "none", minimal: "minimal", low: "low", medium: "medium", high: "high", xhigh: "xhigh", max: "high" };

/** The reasoning effort for Chat's `reasoning_effort` / Responses' `reasoning.effort`, if any. */
export function openaiEffort(reasoning: Request["reasoning"]): string | undefined {
  if (reasoning?.effort) return OPENAI_EFFORT[reasoning.effort] ?? "medium";
  return reasoning?.budgetTokens ? effortForBudget(reasoning.budgetTokens) : undefined;
}
