// Each wire protocol as one table of codecs, so that the proxy can pair any client protocol
// with any source protocol: pass-through when they are the same, translation otherwise.
import type { Protocol } from "../config/schema.ts";
import { chatErrorFrame } from "./chat-completions/errors.ts";
import {
  chatStreamDecoder,
  chatStreamEncoder,
  decodeChatRequest,
  decodeChatResponse,
  encodeChatRequest,
  encodeChatResponse,
  errorText,
  readChatUsage,
} from "./chat-completions/codec.ts";
import { chatPassthroughRelay } from "./chat-completions/passthrough.ts";
import type { Request, Response, StreamDecoder, StreamEncoder, Usage } from "./ir.ts";
import { asObject, isObject, type Json, MODEL_FIELD, parseEventData } from "./json.ts";
import {
  decodeMessagesRequest,
  decodeMessagesResponse,
  encodeMessagesRequest,
  encodeMessagesResponse,
  messagesErrorFrame,
  messagesStreamDecoder,
  messagesStreamEncoder,
  readMessagesUsage,
} from "./messages/codec.ts";
import type { StreamRelay } from "./relay.ts";
import { KEEPALIVE_FRAME } from "../upstream/sse.ts";
import {
  decodeResponsesRequest,
  decodeResponsesResponse,
  encodeResponsesRequest,
  encodeResponsesResponse,
  readResponsesUsage,
  responsesStreamDecoder,
  responsesStreamEncoder,
} from "./responses/codec.ts";
import { inspectingPassthrough } from "./translate.ts";
import {
  decodeGeminiRequest,
  decodeGeminiResponse,
  encodeGeminiRequest,
  encodeGeminiResponse,
  geminiStreamDecoder,
  geminiStreamEncoder,
  readGeminiUsage,
  withStandInSignatures,
} from "./gemini/codec.ts";
import { geminiErrorFrame } from "./gemini/errors.ts";
import { isGeminiSignature } from "./ir.ts";
import type { BitRouterError } from "../errors.ts";

/** Who the answer is for: ids in the client protocol's style, the model it asked for. */
export interface ClientContext {
  requestId: string;
  model: string;
  /** Unix seconds. */
  created: number;
  /** Chat only: the client asked for the usage chunk. */
  includeUsage: boolean;
  /** Chat only: the request offered tools (else no answer can call one, and a stream is not scanned for calls). */
  offersTools?: boolean;
  /** Messages only: input tokens to open a translated stream with, before the source reports any. */
  estimatedInputTokens?: () => number;
}

export interface EncodeOptions {
  model: string;
  stream: boolean;
  tokenLimitField?: "max_tokens" | "max_completion_tokens";
  supportsStreamOptions?: boolean;
  /** Chat only: send earlier turns' reasoning back as `reasoning_content` (models declared to reason). */
  reasoningHistory?: boolean;
}

export type DecodedJson = { ok: true; body: string; usage: Usage | null } | { ok: false; reason: string };

export interface Dialect {
  decodeRequest(body: Json): Request;
  encodeRequest(ir: Request, options: EncodeOptions): Json;
  /** `salt`: this attempt's own, for ids a source left out (Gemini's calls) to be new in every answer. */
  decodeResponse(body: Json, salt?: string): Response;
  encodeResponse(ir: Response, context: ClientContext): Json;
  streamDecoder(salt?: string): StreamDecoder;
  streamEncoder(context: ClientContext): StreamEncoder;
  /** Same protocol on both sides: the client's body with the upstream model and our extensions removed. */
  passthroughBody(body: Json, model: string): Json;
  passthroughRelay(context: ClientContext): StreamRelay;
  /** A 2xx JSON body that is a whole answer in this protocol (not `{}`, an error, or another shape). */
  isAnswer(body: Json): boolean;
  /** Same protocol: the source's JSON answer checked, its usage read, `model` patched. */
  passthroughJson(text: string, context: ClientContext): DecodedJson;
  /** A whole error stream, for a failure after headers went out but before anything else did. */
  errorStream(error: BitRouterError, context: ClientContext): string;
  /** What fills a long silence: an SSE comment, or for a client that reads only `data:` lines, an empty event. */
  keepAlive: string;
}


function withModel(body: Json, model: string): Json {
  const out: Json = { ...body, model };
  delete out.models;
  return out;
}

/**
 * A conversation that was on a Gemini source holds Gemini's signatures in the client's own
 * slots; the same protocol's source (Anthropic, OpenAI) would refuse them. Left out of a
 * pass-through body, copying only what changes. Cheap when there are none: one look per block.
 */
function withoutGeminiSignatures(list: unknown, foreign: (item: unknown) => boolean, inner?: (item: Json) => Json): unknown {
  if (!Array.isArray(list)) return list;
  let out: unknown[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const kept = foreign(item) ? undefined : inner && isObject(item) ? inner(item) : item;
    if (kept !== item && out === undefined) out = list.slice(0, i);
    if (out !== undefined && kept !== undefined) out.push(kept);
  }
  return out ?? list;
}

function messagesPassthroughBody(body: Json, model: string): Json {
  const out = withModel(body, model);
  out.messages = withoutGeminiSignatures(body.messages, () => false, (message) => {
    if (message.role !== "assistant" || !Array.isArray(message.content)) return message;
    const content = withoutGeminiSignatures(message.content, (block) => isObject(block) && block.type === "thinking" && isGeminiSignature(block.signature));
    return content === message.content ? message : { ...message, content };
  });
  return out;
}

function responsesPassthroughBody(body: Json, model: string): Json {
  const out = withModel(body, model);
  out.input = withoutGeminiSignatures(body.input, (item) => isObject(item) && item.type === "reasoning" && isGeminiSignature(item.encrypted_content));
  return out;
}

/** A 2xx answer's JSON, or why it is not an answer (not JSON, or an error body sent with a 2xx). */
export function readAnswer(text: string): { ok: true; body: Json } | { ok: false; reason: string } {
  const body = parseEventData(text);
  if (!body) return { ok: false, reason: "upstream answered 2xx with a body that is not JSON" };
  if (body.error && body.type !== "message") return { ok: false, reason: `upstream error: ${errorText(body.error)}` };
  return { ok: true, body };
}

/**
 * Parse a JSON answer, reject an error body, patch the first `model` (Gemini: `modelVersion`)
 * to what the client asked for, read usage.
 */
function checkedJson(text: string, context: ClientContext, valid: (body: Json) => boolean, usage: (body: Json) => Usage | null, field: ModelField = MODEL): DecodedJson {
  const answer = readAnswer(text);
  if (!answer.ok) return answer;
  const body = answer.body;
  if (!valid(body)) return { ok: false, reason: "upstream answer is not a complete response" };
  return { ok: true, body: patchModel(text, context.model, field), usage: usage(body) };
}

const isChatAnswer = (b: Json) => Array.isArray(b.choices);
const isMessagesAnswer = (b: Json) => b.type === "message" && Array.isArray(b.content);
const isResponsesAnswer = (b: Json) => b.object === "response" && Array.isArray(b.output) && b.status !== "failed";
// A prompt blocked by the source's safety filter is an answer too (promptFeedback, no candidates).
const isGeminiAnswer = (b: Json) => (Array.isArray(b.candidates) && b.candidates.length > 0) || Boolean(b.promptFeedback);

interface ModelField {
  pattern: RegExp;
  name: string;
}
const MODEL: ModelField = { pattern: MODEL_FIELD, name: "model" };
const MODEL_VERSION: ModelField = { pattern: /"modelVersion"\s*:\s*"(?:[^"\\]|\\.)*"/, name: "modelVersion" };

function patchModel(text: string, model: string, field: ModelField): string {
  return text.replace(field.pattern, `"${field.name}":${JSON.stringify(model)}`);
}

const compactId = (requestId: string) => requestId.replace(/-/g, "");

const chat: Dialect = {
  decodeRequest: decodeChatRequest,
  encodeRequest: (ir, o) => encodeChatRequest(ir, o),
  decodeResponse: decodeChatResponse,
  encodeResponse: (ir, c) => encodeChatResponse(ir, { id: `chatcmpl-${c.requestId}`, model: c.model, created: c.created }),
  streamDecoder: chatStreamDecoder,
  streamEncoder: (c) => chatStreamEncoder({ id: `chatcmpl-${c.requestId}`, model: c.model, created: c.created, includeUsage: c.includeUsage }),
  passthroughBody: withModel,
  passthroughRelay: (c) => chatPassthroughRelay({ requestedModel: c.model, deliverUsage: c.includeUsage, offersTools: c.offersTools ?? true }),
  isAnswer: isChatAnswer,
  passthroughJson: (text, c) =>
    checkedJson(
      text,
      c,
      isChatAnswer,
      (b) => (b.usage ? readChatUsage(asObject(b.usage)) : null),
    ),
  errorStream: (error) => chatErrorFrame(error),
  keepAlive: KEEPALIVE_FRAME,
};

const messages: Dialect = {
  decodeRequest: decodeMessagesRequest,
  encodeRequest: (ir, o) => encodeMessagesRequest(ir, o),
  decodeResponse: decodeMessagesResponse,
  encodeResponse: (ir, c) => encodeMessagesResponse(ir, { id: `msg_${compactId(c.requestId)}`, model: c.model }),
  streamDecoder: messagesStreamDecoder,
  streamEncoder: (c) => messagesStreamEncoder({ id: `msg_${compactId(c.requestId)}`, model: c.model, estimatedInputTokens: c.estimatedInputTokens }),
  passthroughBody: messagesPassthroughBody,
  passthroughRelay: (c) =>
    inspectingPassthrough({
      decoder: messagesStreamDecoder(),
      rewrite: (block, name) => {
        // Every Anthropic frame must carry its `event:` line, or the SDK drops it silently.
        const named = name === undefined ? `event: ${/"type"\s*:\s*"(\w+)"/.exec(block)?.[1] ?? "message"}\n${block}` : block;
        return name === "message_start" || (name === undefined && named.startsWith("event: message_start")) ? patchModel(named, c.model, MODEL) : named;
      },
      closing: 'event: message_stop\ndata: {"type":"message_stop"}\n\n',
      errorFrame: messagesErrorFrame,
    }),
  isAnswer: isMessagesAnswer,
  passthroughJson: (text, c) =>
    checkedJson(
      text,
      c,
      isMessagesAnswer,
      (b) => (b.usage ? readMessagesUsage(asObject(b.usage)) : null),
    ),
  errorStream: (error, c) => messagesStreamEncoder({ id: `msg_${compactId(c.requestId)}`, model: c.model }).fail(error),
  keepAlive: KEEPALIVE_FRAME,
};

const LIFECYCLE = new Set(["response.created", "response.in_progress", "response.queued", "response.completed", "response.incomplete", "response.failed"]);

const responses: Dialect = {
  decodeRequest: decodeResponsesRequest,
  encodeRequest: (ir, o) => encodeResponsesRequest(ir, o),
  decodeResponse: decodeResponsesResponse,
  encodeResponse: (ir, c) => encodeResponsesResponse(ir, { id: `resp_${compactId(c.requestId)}`, model: c.model, createdAt: c.created }),
  streamDecoder: responsesStreamDecoder,
  streamEncoder: (c) => responsesStreamEncoder({ id: `resp_${compactId(c.requestId)}`, model: c.model, createdAt: c.created }),
  passthroughBody: responsesPassthroughBody,
  passthroughRelay: responsesPassthrough,
  isAnswer: isResponsesAnswer,
  passthroughJson: (text, c) =>
    checkedJson(
      text,
      c,
      isResponsesAnswer,
      (b) => (b.usage ? readResponsesUsage(asObject(b.usage)) : null),
    ),
  errorStream: (error, c) => responsesStreamEncoder({ id: `resp_${compactId(c.requestId)}`, model: c.model, createdAt: c.created }).fail(error),
  keepAlive: KEEPALIVE_FRAME,
};

/**
 * Responses pass-through. A failure after commit must continue the source's own response (same
 * id, later sequence numbers) with `error` and `response.failed`, so both are read off the way.
 */
function responsesPassthrough(c: ClientContext): StreamRelay {
  let responseId = `resp_${compactId(c.requestId)}`;
  let sequence = 0;
  return inspectingPassthrough({
    decoder: responsesStreamDecoder(),
    rewrite: (block, name) => {
      const seen = /"sequence_number"\s*:\s*(\d+)/.exec(block);
      if (seen) sequence = Number(seen[1]) + 1;
      if (name === undefined || !LIFECYCLE.has(name)) return block;
      if (name === "response.created") responseId = /"id"\s*:\s*"([^"]+)"/.exec(block)?.[1] ?? responseId;
      return patchModel(block, c.model, MODEL);
    },
    // A Responses stream ends only with its terminal event, which is also what finishes it.
    closing: "",
    errorFrame: (error) => {
      const code = error.code ?? "upstream_error";
      const frame = (type: string, payload: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`;
      return (
        frame("error", { code, message: error.message, param: null }) +
        frame("response.failed", { response: { id: responseId, object: "response", created_at: c.created, status: "failed", model: c.model, usage: null, error: { code, message: error.message }, incomplete_details: null } })
      );
    },
  });
}

const geminiContext = (c: ClientContext) => ({ model: c.model, responseId: compactId(c.requestId) });

/** Gemini: the model travels in the URL, so a pass-through body only loses BitRouter's own fields. */
const generateContent: Dialect = {
  decodeRequest: decodeGeminiRequest,
  encodeRequest: (ir) => encodeGeminiRequest(ir),
  decodeResponse: decodeGeminiResponse,
  encodeResponse: (ir, c) => encodeGeminiResponse(ir, geminiContext(c)),
  streamDecoder: geminiStreamDecoder,
  streamEncoder: (c) => geminiStreamEncoder(geminiContext(c)),
  passthroughBody: (body) => {
    const out: Json = { ...body };
    delete out.models;
    delete out.model;
    // A turn another model wrote, or a client that lost a signature, still has to pass Gemini 3's check.
    out.contents = withStandInSignatures(body.contents);
    return out;
  },
  // Gemini streams have no end marker: the chunk with a finishReason is the last.
  // `modelVersion` echoes the model the client asked for, as `model` does in the other protocols.
  passthroughRelay: (c) => inspectingPassthrough({ decoder: geminiStreamDecoder(), rewrite: (block) => patchModel(block, c.model, MODEL_VERSION), closing: "", errorFrame: geminiErrorFrame }),
  isAnswer: isGeminiAnswer,
  passthroughJson: (text, c) =>
    checkedJson(
      text,
      c,
      isGeminiAnswer,
      (b) => (b.usageMetadata ? readGeminiUsage(asObject(b.usageMetadata)) : null),
      MODEL_VERSION,
    ),
  errorStream: (error) => geminiErrorFrame(error),
  // The SDK inside gemini-cli reads only a buffer that starts with `data: `: one comment line
  // stalls the stream for good. An empty model turn is what it skips.
  keepAlive: `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [] }, index: 0 }] })}\r\n\r\n`,
};

export const DIALECTS: Record<Protocol, Dialect> = { chat_completions: chat, messages, responses, generate_content: generateContent };
