// Inbound auth when skip_auth is false: `Authorization: Bearer <key>` or `x-api-key: <key>`,
// compared in constant time (digests of equal length, so the key length does not leak either).
import { createHash, timingSafeEqual } from "node:crypto";
import { createMiddleware } from "hono/factory";
import { BitRouterError } from "../../errors.ts";
import type { AppEnv } from "../app.ts";

export function inboundAuth() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const settings = c.var.registry.settings;
    if (settings.skipAuth) return next();
    const presented = presentedKey(c.req.raw.headers);
    if (presented === undefined) {
      throw new BitRouterError(401, "authentication_error", "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'", { code: "missing_api_key" });
    }
    if (!settings.apiKeys.some((key) => sameSecret(presented, key))) {
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
  return headers.get("x-api-key")?.trim() || undefined;
}

function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
