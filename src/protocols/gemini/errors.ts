// Google's error envelope, `{"error":{"code","message","status"}}` (google.rpc.Status as JSON,
// the shape the Gemini API and @google/genai use), for the /v1beta routes and Gemini streams.
import type { BitRouterError } from "../../errors.ts";

/** The google.rpc.Code name Google pairs with an HTTP status. */
function googleStatus(http: number): string {
  switch (http) {
    case 400:
    case 413:
    case 422:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 408:
    case 504:
      return "DEADLINE_EXCEEDED";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 502:
    case 503:
    case 529:
      return "UNAVAILABLE";
    default:
      return http >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

/** The error body; BitRouter's own code and the attempts ride along in `details`, as Google's ErrorInfo does. */
export function geminiErrorBody(error: BitRouterError): { error: Record<string, unknown> } {
  const details: unknown[] = [];
  // Gemini clients (gemini-cli) read when to retry from a RetryInfo detail, not the header.
  const retryAfter = Number(error.headers["retry-after"]);
  if (retryAfter > 0) details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` });
  if (error.code) {
    details.push({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: error.code, domain: "bitrouter", metadata: error.param ? { param: error.param } : {} });
  }
  return {
    error: {
      code: error.status,
      message: error.message,
      status: googleStatus(error.status),
      ...(details.length > 0 ? { details } : {}),
      ...(error.attempts ? { attempts: error.attempts } : {}),
    },
  };
}

/** A Gemini stream's terminal error: one more `data:` line holding the error envelope. */
export function geminiErrorFrame(error: BitRouterError): string {
  return `data: ${JSON.stringify(geminiErrorBody(error))}\r\n\r\n`;
}

/**
 * Gemini says when to come back in the body, not a header: a google.rpc.RetryInfo detail,
 * `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"34.4s"}` (a protobuf
 * Duration in JSON: seconds with an `s`). In ms (the caller caps it); undefined otherwise.
 */
export function googleRetryDelay(body: string): number | undefined {
  if (!body.includes("RetryInfo")) return undefined;
  try {
    const details = (JSON.parse(body) as { error?: { details?: unknown } }).error?.details;
    if (!Array.isArray(details)) return undefined;
    for (const detail of details as Record<string, unknown>[]) {
      if (typeof detail?.["@type"] !== "string" || !detail["@type"].endsWith("google.rpc.RetryInfo")) continue;
      const delay = typeof detail.retryDelay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay.trim()) : null;
      if (delay) return Number(delay[1]) * 1000;
    }
  } catch {
    // not JSON: no delay
  }
  return undefined;
}
