// One renderer per protocol for errors before a response has started. (Errors during a
// stream are frames, produced by each protocol's relay.)
import { BitRouterError } from "../errors.ts";
import { openAIErrorBody } from "../protocols/chat-completions/errors.ts";
import { geminiErrorBody } from "../protocols/gemini/errors.ts";
import { passedResponseHeaders } from "../upstream/headers.ts";

export type ErrorDialect = "openai" | "anthropic" | "google";

export function renderError(error: BitRouterError, dialect: ErrorDialect, requestId?: string): Response {
  const headers = new Headers({ "content-type": "application/json", ...error.headers });
  if (requestId) headers.set("x-bitrouter-request-id", requestId);
  if (error.status === 401 && !headers.has("www-authenticate")) headers.set("www-authenticate", 'Bearer realm="bitrouter"');
  if (error.upstream) {
    // Surfaced as it came (SPEC §7): the source's own status and body.
    passedResponseHeaders(error.upstream.headers, headers);
    return new Response(error.upstream.body, { status: error.upstream.status, headers });
  }
  const body = dialect === "anthropic" ? anthropicErrorBody(error) : dialect === "google" ? geminiErrorBody(error) : openAIErrorBody(error);
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

/** Anthropic's `{"type":"error","error":{type,message}}`, with its own type names. */
export function anthropicErrorBody(error: BitRouterError): Record<string, unknown> {
  return {
    type: "error",
    error: { type: anthropicType(error), message: error.message, ...(error.attempts ? { attempts: error.attempts } : {}) },
    ...(error.code ? { code: error.code } : {}),
  };
}

function anthropicType(error: BitRouterError): string {
  switch (error.type) {
    case "invalid_request_error":
    case "authentication_error":
    case "permission_error":
    case "not_found_error":
    case "request_too_large":
    case "rate_limit_error":
      return error.type;
    case "upstream_error":
      return error.status === 529 || error.status === 503 ? "overloaded_error" : "api_error";
    case "internal_error":
      return "api_error";
  }
}

export function internalError(): BitRouterError {
  return new BitRouterError(500, "internal_error", "internal error (see the server log)", { code: "internal_error" });
}
