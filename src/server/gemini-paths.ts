// Which requests are Google's (SPEC §18): the Gemini routes' paths, and on /v1 a client that
// authenticates Google's way. One place for the auth middleware (where `?key=` is read), the
// Gemini routes (which list to answer) and the error renderer (which envelope), so they agree.

/** The Gemini methods BitRouter serves on `models/{model}:method`. */
export const GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"] as const;

const V1_METHOD = new RegExp(`^/v1/models/.+(?::|%3A)(?:${GEMINI_METHODS.join("|")})$`, "i");

/** A Gemini route by its path alone: everything under /v1beta, and /v1/models/{model}:method. */
export function isGeminiPath(path: string): boolean {
  return path.startsWith("/v1beta/") || path === "/v1beta" || V1_METHOD.test(path);
}

/** Paths where Google's `?key=` is read: the Gemini routes and /v1's model list (Google's too there). */
export function acceptsQueryKey(path: string): boolean {
  return isGeminiPath(path) || path === "/v1/models" || path.startsWith("/v1/models/");
}

/**
 * A Gemini client: on a Gemini path, or on /v1/models when it sends Google's key header (and no
 * OpenAI-style Authorization) or `?key=`.
 */
export function isGoogleClient(request: Request): boolean {
  const url = new URL(request.url);
  if (isGeminiPath(url.pathname)) return true;
  if (!url.pathname.startsWith("/v1/models")) return false;
  return (request.headers.has("x-goog-api-key") && !request.headers.has("authorization")) || url.searchParams.has("key");
}
