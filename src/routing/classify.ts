// What one failed attempt means for the chain (SPEC §7): surface it as it is, or move to the
// next candidate, possibly after one retry of the same candidate.
import type { AttemptRecord } from "../errors.ts";
import { BitRouterError } from "../errors.ts";
import type { UpstreamFailure } from "../upstream/client.ts";
import { googleRetryDelay } from "../protocols/gemini/errors.ts";

export interface AttemptFailure {
  /** Upstream HTTP status, or null for a transport failure. */
  status: number | null;
  /** `unsupported`: the request has a field this source's protocol cannot express. */
  kind: "status" | "connect" | "reset" | "timeout" | "invalid" | "stream" | "unsupported";
  /** Short, for the attempt list and the log. Never contains a secret. */
  reason: string;
  action: "next" | "surface";
  /** Retry the same candidate once, after this many ms. */
  retrySameAfterMs?: number;
  /** The source's Retry-After, in ms. */
  retryAfterMs?: number;
  /** When the source said it is back (ms since the epoch): a plan's window reset. */
  resumeAt?: number;
}

/** Default pause before retrying a 5xx or 429 that gave no Retry-After. */
export const RETRY_BACKOFF_MS = 250;

export function classifyStatus(status: number, headers: Headers, maxRetryWaitMs: number, body = ""): AttemptFailure {
  const delay = googleRetryDelay(body);
  const retryAfterMs = parseRetryAfter(headers) ?? (delay === undefined ? undefined : capped(delay));
  const reason = `HTTP ${status}`;
  if (status === 429) {
    // Honour Retry-After when it is short enough to be worth waiting for; otherwise move on.
    const wait = retryAfterMs ?? RETRY_BACKOFF_MS;
    return { status, kind: "status", reason, action: "next", retryAfterMs, retrySameAfterMs: wait <= maxRetryWaitMs ? wait : undefined };
  }
  if (status === 500 || status === 502 || status === 503 || status === 504 || status === 529) {
    const wait = Math.min(retryAfterMs ?? RETRY_BACKOFF_MS, maxRetryWaitMs);
    return { status, kind: "status", reason, action: "next", retryAfterMs, retrySameAfterMs: wait };
  }
  // 408 timeout, other 5xx, and problems of this source rather than of the request:
  // credentials or quota (401/402/403) and a model it does not have (404).
  if (status === 408 || status >= 500 || status === 401 || status === 402 || status === 403 || status === 404) {
    return { status, kind: "status", reason, action: "next", retryAfterMs };
  }
  // 1xx/3xx where an answer was due (a redirect to a login page, a misconfigured proxy): this source's problem.
  if (status < 400) return { status, kind: "status", reason, action: "next" };
  // 400, 413, 422 and the rest: the request itself is at fault; another source would say the same.
  return { status, kind: "status", reason, action: "surface" };
}

export function classifyFailure(failure: UpstreamFailure): AttemptFailure {
  switch (failure.kind) {
    case "reset":
      // A stale pooled connection looks exactly like this; one immediate retry is safe before headers.
      return { status: null, kind: "reset", reason: failure.message, action: "next", retrySameAfterMs: failure.phase === "headers" ? 0 : undefined };
    case "timeout":
      return { status: null, kind: "timeout", reason: failure.message, action: "next" };
    case "connect":
    case "transport":
      return { status: null, kind: "connect", reason: failure.message, action: "next" };
    case "client_gone":
      return { status: null, kind: "connect", reason: failure.message, action: "surface" };
  }
}

/** Longer Retry-After values are taken as this (ms): a day is longer than any source means to wait. */
export const RETRY_AFTER_CAP_MS = 86_400_000;
/** An IMF-fixdate, the one HTTP-date form sources send (`Wed, 21 Oct 2037 07:28:00 GMT`). */
/** 2000-01-01. */
const EARLIEST_DATE_MS = 946_684_800_000;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Retry-After (seconds or an HTTP date) or retry-after-ms, in ms, at most a day; undefined for
 * anything else (a list of values, a word, a date in another form), never a guess.
 */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms")?.trim();
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return capped(Number(ms));
  const value = headers.get("retry-after")?.trim();
  if (value === undefined) return undefined;
  // Whole seconds, as HTTP defines it; a date before 2000 is a broken clock, not a time.
  if (/^\d+$/.test(value)) return capped(Number(value) * 1000);
  if (!HTTP_DATE.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) || date < EARLIEST_DATE_MS ? undefined : capped(date - now);
}

function capped(ms: number): number | undefined {
  if (!Number.isFinite(ms)) return RETRY_AFTER_CAP_MS;
  return Math.round(Math.min(Math.max(0, ms), RETRY_AFTER_CAP_MS));
}

export interface FailedAttempt extends AttemptRecord {
  failure: AttemptFailure;
}

/**
 * The one error for an exhausted chain (SPEC §7): all 429 → 429 with the shortest
 * Retry-After; all timeouts → 504; all availability failures → 503; otherwise 502.
 */
export function exhaustedError(requested: string, attempts: FailedAttempt[]): BitRouterError {
  const records: AttemptRecord[] = attempts.map(({ provider, model, account, status, reason }) => ({ provider, model, ...(account !== undefined ? { account } : {}), status, reason }));
  const summary = records.map((a) => `${a.provider}/${a.model}${a.account !== undefined ? ` (account ${a.account})` : ""}: ${a.reason}`).join("; ");
  const sources = new Set(records.map((a) => a.provider)).size;
  const message = `${sources === 1 ? "the only source" : `all ${sources} sources`} for '${requested}' failed: ${summary}`;
  const failures = attempts.map((a) => a.failure);

  if (failures.length > 0 && failures.every((f) => f.status === 429)) {
    const waits = failures.map((f) => f.retryAfterMs).filter((w): w is number => w !== undefined);
    const headers: Record<string, string> = waits.length > 0 ? { "retry-after": String(Math.max(1, Math.ceil(Math.min(...waits) / 1000))) } : {};
    return new BitRouterError(429, "rate_limit_error", message, { code: "upstream_rate_limited", attempts: records, headers });
  }
  if (failures.length > 0 && failures.every((f) => f.kind === "timeout")) {
    return new BitRouterError(504, "upstream_error", message, { code: "upstream_timeout", attempts: records });
  }
  const availability = (f: AttemptFailure) =>
    f.kind === "timeout" || f.kind === "connect" || f.kind === "reset" || f.kind === "stream" || f.status === 408 || f.status === 429 || (f.status !== null && f.status >= 500);
  if (failures.every(availability)) {
    return new BitRouterError(503, "upstream_error", message, { code: "upstream_unavailable", attempts: records });
  }
  return new BitRouterError(502, "upstream_error", message, { code: "upstream_failed", attempts: records });
}
