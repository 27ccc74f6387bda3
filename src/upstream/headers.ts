// Header hygiene both ways. Outbound headers are built from an allowlist, never copied, so
// client credentials, hop-by-hop headers, host and accept-encoding never reach a source.
// Inbound headers are filtered the same way: a decoded body must not keep content-encoding
// or content-length, and cookies from a source are not the client's business.
import type { Protocol } from "../config/schema.ts";
import { VERSION } from "../version.ts";

/** Marks a request BitRouter sent upstream, so that one coming back to it is known for a loop. */
export const HOP_HEADER = "x-bitrouter-hop";

/** Client headers a source may legitimately use. */
const FORWARDED_REQUEST_HEADERS = ["http-referer", "x-title", "openai-beta"];
const ANTHROPIC_VERSION = "2023-06-01";
const USER_AGENT = `bitrouter/${VERSION}`;

export interface OutboundHeaderOptions {
  /** The key of the account sending (secret), if it has one. */
  apiKey: string | undefined;
  protocol: Protocol;
  inbound: Headers;
  requestId: string;
  stream: boolean;
}

/** A plain object (cheaper than a Headers per request; fetch takes either). */
export function upstreamRequestHeaders(opts: OutboundHeaderOptions): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: opts.stream ? "text/event-stream" : "application/json",
    "user-agent": USER_AGENT,
    "x-bitrouter-request-id": opts.requestId,
    [HOP_HEADER]: "1",
  };
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = opts.inbound.get(name);
    if (value) headers[name] = value;
  }
  const key = opts.apiKey;
  if (opts.protocol === "messages") {
    headers["anthropic-version"] = opts.inbound.get("anthropic-version") ?? ANTHROPIC_VERSION;
    const beta = opts.inbound.get("anthropic-beta");
    if (beta) headers["anthropic-beta"] = beta;
    if (key) headers["x-api-key"] = key;
  } else if (opts.protocol === "generate_content") {
    if (key) headers["x-goog-api-key"] = key;
  } else if (key) {
    headers.authorization = `Bearer ${key}`;
  }
  return headers;
}

/** Upstream headers worth passing to the client: rate limits, request ids, retry hints. */
const PASSED_RESPONSE_HEADERS = new Set(["retry-after", "retry-after-ms", "x-request-id", "request-id", "openai-processing-ms", "openai-version", "openai-organization"]);
const PASSED_RESPONSE_PREFIXES = ["x-ratelimit-", "anthropic-ratelimit-"];

export function passedResponseHeaders(upstream: Headers, into = new Headers()): Headers {
  for (const [name, value] of upstream) {
    if (PASSED_RESPONSE_HEADERS.has(name) || PASSED_RESPONSE_PREFIXES.some((p) => name.startsWith(p))) into.set(name, value);
  }
  return into;
}

/** The endpoint path each protocol appends to `api_base`. */
export function endpointUrl(apiBase: string, protocol: Protocol, model: string, stream: boolean): string {
  switch (protocol) {
    case "chat_completions":
      return `${apiBase}/chat/completions`;
    case "messages":
      return `${apiBase}/messages`;
    case "responses":
      return `${apiBase}/responses`;
    case "generate_content":
      return `${apiBase}/models/${encodeURIComponent(model)}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;
  }
}
