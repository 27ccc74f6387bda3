// Inbound auth when skip_auth is false: `Authorization: Bearer <key>`, `x-api-key: <key>` or
// `x-goog-api-key: <key>` (Gemini clients), or `?key=` on the Gemini routes (Google's own URL
// form, used by curl examples; kept off the other routes so keys stay out of their URLs), compared in constant time (digests of equal length, so the key length does not leak either).
import { createHash, timingSafeEqual } from "node:crypto";
import { createMiddleware } from "hono/factory";
import { BitRouterError } from "../../errors.ts";
import type { AppEnv } from "../app.ts";
import { acceptsQueryKey } from "../gemini-paths.ts";

export function inboundAuth() {
  // The configured keys' digests, once per key list (a reload brings a new list).
  const digestsByList = new WeakMap<readonly string[], Buffer[]>();
  const keyDigests = (keys: readonly string[]): Buffer[] => {
    let digests = digestsByList.get(keys);
    if (!digests) {
      digests = keys.map(digest);
      digestsByList.set(keys, digests);
    }
    return digests;
  };
  return createMiddleware<AppEnv>(async (c, next) => {
    const settings = c.var.registry.settings;
    if (settings.skipAuth) return next();
    const presented = presentedKey(c.req.raw.headers) ?? (acceptsQueryKey(c.req.path) ? c.req.query("key")?.trim() || undefined : undefined);
    if (presented === undefined) {
      throw new BitRouterError(401, "authentication_error", "missing API key: send 'Authorization: Bearer <key>', 'x-api-key: <key>' or 'x-goog-api-key: <key>'", { code: "missing_api_key" });
    }
    const offered = digest(presented);
    if (!keyDigests(settings.apiKeys).some((key) => timingSafeEqual(offered, key))) {
      throw new BitRouterError(401, "authentication_error", "invalid API key", { code: "invalid_api_key" });
    }
    return next();
  });
}

function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    return (match?.[1] ?? authorization).trim();
  }
  return headers.get("x-api-key")?.trim() || headers.get("x-goog-api-key")?.trim() || undefined;
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}
