// One client request aimed at one candidate: the upstream request to send, and how to read
// what comes back (stream relay, JSON body, error answer) in the client's protocol. The same
// protocol on both sides passes bytes through; different ones translate through the IR.
import type { Protocol } from "../config/schema.ts";
import { badRequest, BitRouterError, type ErrorType, type UpstreamAnswer } from "../errors.ts";
import { errorText } from "../protocols/chat-completions/codec.ts";
import { type ClientContext, DIALECTS, type DecodedJson, readAnswer } from "../protocols/dialects.ts";
import { fitRequest, restoreToolNames, restoringDecoder } from "../protocols/constraints.ts";
import { estimateTokens } from "../protocols/estimate.ts";
import { auditRequestFields } from "../protocols/fields.ts";
import { isBlank, type Request as IrRequest } from "../protocols/ir.ts";
import { asObject, type Json } from "../protocols/json.ts";
import type { StreamRelay } from "../protocols/relay.ts";
import { foldingEncoder } from "../protocols/fold.ts";
import { geminiSchema } from "../protocols/gemini/schema.ts";
import { translatingRelay } from "../protocols/translate.ts";
import type { Target } from "../routing/order.ts";
import { endpointUrl, upstreamRequestHeaders } from "../upstream/headers.ts";

export interface InboundRequest {
  protocol: Protocol;
  requestId: string;
  /** The model string the client sent; answers echo it. */
  requestedModel: string;
  stream: boolean;
  /** Chat only: stream usage was asked for (`stream_options.include_usage`). */
  wantsUsage: boolean;
  headers: Headers;
  /** The client's body as parsed: passed through to a source of the same protocol. */
  body: Json;
  /** Unix seconds, for ids and `created` fields. */
  created: number;
  /** The conversation it belongs to (routing/session.ts), for account affinity. */
  session?: string;
}

export interface Exchange {
  url: string;
  headers: Record<string, string>;
  /** In the source's protocol; serialised by the attempt after any plan shaping. */
  body: Json;
  /** The source is asked for a stream (the client's choice, or a stream-only source). */
  upstreamStream: boolean;
  relay(): StreamRelay;
  decodeJson(text: string): DecodedJson;
  /** For a JSON client of a stream-only source: a relay that keeps score, and the answer it folds to. */
  fold(): { relay: StreamRelay; answer(): DecodedJson };
  /** An upstream error answer that is surfaced, as the client's protocol expects it. */
  surfacedError(answer: UpstreamAnswer): BitRouterError;
  /** Client fields that do not reach this source (translation only), for the debug log. */
  dropped: string[];
}

/** The client's request in the intermediate form, decoded once per request and only if needed. */
const irCache = new WeakMap<InboundRequest, IrRequest>();
function irOf(inbound: InboundRequest): IrRequest {
  let ir = irCache.get(inbound);
  if (!ir) {
    ir = DIALECTS[inbound.protocol].decodeRequest(inbound.body);
    irCache.set(inbound, ir);
  }
  return ir;
}

export function clientContext(inbound: InboundRequest): ClientContext {
  return { requestId: inbound.requestId, model: inbound.requestedModel, created: inbound.created, includeUsage: inbound.wantsUsage, offersTools: Array.isArray(inbound.body.tools) && inbound.body.tools.length > 0 };
}

export function planExchange(inbound: InboundRequest, candidate: Target): Exchange {
  const target = candidate.protocol;
  const client = DIALECTS[inbound.protocol];
  const source = DIALECTS[target];
  const context = clientContext(inbound);
  const same = target === inbound.protocol;
  const compat = candidate.model?.compatibility;
  const upstreamStream = inbound.stream || candidate.source.streamOnly === true;
  let body: Json;
  let dropped: string[] = [];
  let renamed = new Map<string, string>();
  if (same) {
    body = sameProtocolBody(inbound, candidate);
  } else {
    dropped = auditRequestFields(inbound.protocol, target, inbound.body, `${candidate.source.id}/${candidate.upstreamModel}`).dropped;
    const fitted = fitRequest(forTarget(irOf(inbound), candidate), target);
    if (!fitted.ir.messages.some(sendable)) throw badRequest("the conversation has no turn with content to send: every message is empty once translated", "invalid_request", "messages");
    renamed = fitted.renamed;
    body = source.encodeRequest(fitted.ir, {
      model: candidate.upstreamModel,
      stream: upstreamStream,
      tokenLimitField: compat?.token_limit_field,
      supportsStreamOptions: compat?.supports_stream_options,
      reasoningHistory: reasons(candidate),
    });
    // A Messages client reads input tokens from message_start, before such a source reports any.
    if (inbound.protocol === "messages") context.estimatedInputTokens = () => estimateTokens(irOf(inbound));
  }
  if (target === "chat_completions" && takesGeminiSchemas(candidate)) body.tools = geminiTools(body.tools);
  // Gemini asks for a stream in the URL (endpointUrl), never in the body.
  if (upstreamStream && target !== "generate_content") body.stream = true;
  // Unique to this attempt: ids minted for calls the source left without one.
  const salt = `${inbound.requestId}/${candidate.key}`;
  const decoder = () => restoringDecoder(source.streamDecoder(salt), renamed);
  return {
    url: endpointUrl(candidate.apiBase, target, candidate.upstreamModel, upstreamStream),
    headers: upstreamRequestHeaders({ apiKey: candidate.apiKey, protocol: target, inbound: inbound.headers, requestId: inbound.requestId, stream: upstreamStream }),
    body,
    upstreamStream,
    fold() {
      const encoder = foldingEncoder(context.requestId);
      return {
        relay: translatingRelay(decoder(), encoder),
        answer: () => {
          const ir = encoder.result();
          return { ok: true, body: JSON.stringify(client.encodeResponse(ir, context)), usage: ir.usage };
        },
      };
    },
    relay: () => (same ? client.passthroughRelay(context) : translatingRelay(decoder(), client.streamEncoder(context))),
    decodeJson(text) {
      if (same) return client.passthroughJson(text, context);
      const answer = readAnswer(text);
      if (!answer.ok) return answer;
      // The same rule as a pass-through: `{}` or another shape is no answer, and the chain moves on.
      if (!source.isAnswer(answer.body)) return { ok: false, reason: "upstream answer is not a complete response" };
      const ir = restoreToolNames(source.decodeResponse(answer.body, salt), renamed);
      return { ok: true, body: JSON.stringify(client.encodeResponse(ir, context)), usage: ir.usage };
    },
    dropped,
    surfacedError(answer) {
      // The source's own body when it speaks the client's protocol and sent a JSON error (a proxy's
      // HTML page is not one); its message, re-rendered in the client's protocol, otherwise.
      const asIs = same && isJsonError(answer.body);
      return new BitRouterError(answer.status, errorTypeFor(answer.status), upstreamMessage(answer.body), asIs ? { upstream: answer } : { code: "upstream_rejected" });
    },
  };
}

/**
 * Reasoning hints (Claude Code always sends `thinking`) reach another protocol only for a model
 * declared with the `reasoning` capability: most models refuse a reasoning parameter with a 400,
 * which would end the agent's turn.
 */
function forTarget(ir: IrRequest, candidate: Target): IrRequest {
  if (!ir.reasoning || reasons(candidate)) return ir;
  return { ...ir, reasoning: undefined };
}

/** A turn with something a source can take (not just blank text or unsigned reasoning). */
function sendable(message: IrRequest["messages"][number]): boolean {
  return message.content.some((p) => !(p.type === "text" && isBlank(p.text)) && !(p.type === "reasoning" && !p.signature && !p.redactedData));
}

/**
 * A Chat source that reads tool schemas the way Gemini does: Google's OpenAI-compatible
 * endpoint (by its host), or a model declared `tool_schema: gemini` (a proxy in front of Gemini).
 */
function takesGeminiSchemas(candidate: Target): boolean {
  const declared = candidate.model?.compatibility?.tool_schema;
  if (declared !== undefined) return declared === "gemini";
  return candidate.apiBase.includes("generativelanguage.googleapis.com");
}

function geminiTools(tools: unknown): unknown {
  if (!Array.isArray(tools)) return tools;
  return tools.map((tool) => {
    const fn = asObject(asObject(tool).function);
    return fn.parameters === undefined ? tool : { ...asObject(tool), function: { ...fn, parameters: geminiSchema(fn.parameters) } };
  });
}

function reasons(candidate: Target): boolean {
  return candidate.model?.capabilities?.includes("reasoning") === true;
}

function sameProtocolBody(inbound: InboundRequest, candidate: Target): Json {
  const body = DIALECTS[inbound.protocol].passthroughBody(inbound.body, candidate.upstreamModel);
  if (inbound.protocol !== "chat_completions") return body;
  // Chat: usage is always asked for (and only delivered when the client asked); compatibility flags apply.
  const compat = candidate.model?.compatibility;
  if (inbound.stream) {
    if (compat?.supports_stream_options === false) delete body.stream_options;
    else body.stream_options = { ...asObject(body.stream_options), include_usage: true };
  }
  if (compat?.token_limit_field) {
    const other = compat.token_limit_field === "max_tokens" ? "max_completion_tokens" : "max_tokens";
    if (body[other] !== undefined && body[compat.token_limit_field] === undefined) {
      body[compat.token_limit_field] = body[other];
      delete body[other];
    }
  }
  if (compat?.supports_store === false) {
    if (body.store === true) throw badRequest(`'store: true' is not supported by ${candidate.source.id}/${candidate.upstreamModel}`, "unsupported_parameter", "store");
    delete body.store;
  }
  return body;
}

export function errorTypeFor(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "upstream_error";
  return "invalid_request_error";
}

/** The message inside an upstream error body (OpenAI or Anthropic shape), or the body itself. */
function isJsonError(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === "object" && parsed !== null && "error" in parsed;
  } catch {
    return false;
  }
}

export function upstreamMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (parsed.error) return errorText(parsed.error);
    if (typeof parsed.message === "string") return parsed.message.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return body.trim().slice(0, 300) || "upstream error";
}
