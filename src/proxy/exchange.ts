// One client request aimed at one candidate: the upstream request to send, and how to read
// what comes back (stream relay, JSON body, error answer) in the client's protocol.
import type { Protocol } from "../config/schema.ts";
import { BitRouterError, type ErrorType, type UpstreamAnswer } from "../errors.ts";
import { chatUpstreamBody, type ChatRequest } from "../protocols/chat-completions/request.ts";
import { chatPassthroughRelay, errorMessage, readUsage } from "../protocols/chat-completions/passthrough.ts";
import type { StreamRelay, Usage } from "../protocols/relay.ts";
import type { Candidate } from "../routing/resolve.ts";
import { endpointUrl, upstreamRequestHeaders } from "../upstream/headers.ts";

export interface InboundRequest {
  protocol: Protocol;
  requestId: string;
  /** The model string the client sent; responses echo it. */
  requestedModel: string;
  stream: boolean;
  /** Stream usage was asked for (`stream_options.include_usage`). */
  wantsUsage: boolean;
  headers: Headers;
  body: ChatRequest;
}

export interface JsonAnswer {
  body: string;
  usage: Usage | null;
}

export type DecodedJson = { ok: true; answer: JsonAnswer } | { ok: false; reason: string };

export interface Exchange {
  url: string;
  headers: Record<string, string>;
  body: string;
  relay(): StreamRelay;
  decodeJson(text: string): DecodedJson;
  /** An upstream error answer that is surfaced, as the client's protocol expects it. */
  surfacedError(answer: UpstreamAnswer): BitRouterError;
}

const MODEL_FIELD = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;

export function planExchange(inbound: InboundRequest, candidate: Candidate): Exchange {
  if (inbound.protocol !== "chat_completions" || candidate.protocol !== "chat_completions") {
    throw new BitRouterError(501, "upstream_error", `translation from ${inbound.protocol} to ${candidate.protocol} is not available`, { code: "protocol_unsupported" });
  }
  const url = endpointUrl(candidate.source, candidate.protocol, candidate.upstreamModel, inbound.stream);
  const headers = upstreamRequestHeaders({ source: candidate.source, protocol: candidate.protocol, inbound: inbound.headers, requestId: inbound.requestId, stream: inbound.stream });
  const modelField = `"model":${JSON.stringify(inbound.requestedModel)}`;
  return {
    url,
    headers,
    body: chatUpstreamBody(inbound.body, candidate),
    relay: () => chatPassthroughRelay({ requestedModel: inbound.requestedModel, deliverUsage: inbound.wantsUsage }),
    decodeJson(text) {
      let parsed: { choices?: unknown; usage?: Record<string, unknown>; error?: unknown };
      try {
        parsed = JSON.parse(text);
      } catch {
        return { ok: false, reason: "upstream answered 2xx with a body that is not JSON" };
      }
      if (parsed?.error) return { ok: false, reason: `upstream error: ${errorMessage(parsed.error)}` };
      if (!Array.isArray(parsed?.choices)) return { ok: false, reason: "upstream answer has no choices" };
      return { ok: true, answer: { body: text.replace(MODEL_FIELD, modelField), usage: parsed.usage ? readUsage(parsed.usage) : null } };
    },
    surfacedError(answer) {
      return new BitRouterError(answer.status, errorTypeFor(answer.status), upstreamMessage(answer.body), { upstream: answer });
    },
  };
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
export function upstreamMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (parsed.error) return errorMessage(parsed.error);
    if (typeof parsed.message === "string") return parsed.message.slice(0, 300);
  } catch {
    // not JSON: fall through
  }
  return body.trim().slice(0, 300) || "upstream error";
}
