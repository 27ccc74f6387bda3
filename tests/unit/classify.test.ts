import { describe, expect, test } from "bun:test";
import { classifyFailure, classifyStatus, exhaustedError, type FailedAttempt, parseRetryAfter } from "../../src/routing/classify.ts";
import { UpstreamFailure } from "../../src/upstream/client.ts";

const none = new Headers();

describe("classifying a failed attempt", () => {
  test.each([
    [429, "next", true],
    [500, "next", true],
    [502, "next", true],
    [503, "next", true],
    [529, "next", true],
    [408, "next", false],
    [401, "next", false],
    [402, "next", false],
    [403, "next", false],
    [404, "next", false],
    [501, "next", false],
    [302, "next", false],
    [304, "next", false],
    [400, "surface", false],
    [413, "surface", false],
    [422, "surface", false],
  ])("HTTP %d → %s (retry same: %p)", (status, action, retried) => {
    const failure = classifyStatus(status, none, 5000);
    expect(failure.action).toBe(action as "next" | "surface");
    expect(failure.retrySameAfterMs !== undefined).toBe(retried);
  });

  test("429 honours Retry-After up to the cap; beyond it, moves on without waiting", () => {
    expect(classifyStatus(429, new Headers({ "retry-after": "2" }), 5000)).toMatchObject({ retrySameAfterMs: 2000, retryAfterMs: 2000 });
    const long = classifyStatus(429, new Headers({ "retry-after": "60" }), 5000);
    expect(long.retryAfterMs).toBe(60000);
    expect(long.retrySameAfterMs).toBeUndefined();
  });

  test("transport failures: a reset before headers is retried at once; timeouts never", () => {
    expect(classifyFailure(new UpstreamFailure("reset", "reset", "headers"))).toMatchObject({ action: "next", retrySameAfterMs: 0 });
    const timeout = classifyFailure(new UpstreamFailure("timeout", "slow", "headers"));
    expect(timeout).toMatchObject({ action: "next", kind: "timeout" });
    expect(timeout.retrySameAfterMs).toBeUndefined();
    const refused = classifyFailure(new UpstreamFailure("connect", "refused", "headers"));
    expect(refused.action).toBe("next");
    expect(refused.retrySameAfterMs).toBeUndefined();
    expect(classifyFailure(new UpstreamFailure("client_gone", "gone", "headers")).action).toBe("surface");
  });

  test("Retry-After: seconds, HTTP date, retry-after-ms", () => {
    expect(parseRetryAfter(new Headers({ "retry-after": "3" }))).toBe(3000);
    expect(parseRetryAfter(new Headers({ "retry-after-ms": "150" }))).toBe(150);
    const now = Date.parse("2026-11-24T12:00:00Z");
    expect(parseRetryAfter(new Headers({ "retry-after": "Tue, 24 Nov 2026 12:00:04 GMT" }), now)).toBe(4000);
    expect(parseRetryAfter(new Headers({ "retry-after": "soon" }))).toBeUndefined();
  });

  test("Retry-After that cannot be meant is never a guess: lists and loose dates are ignored, huge values are a day", () => {
    const now = Date.parse("2026-11-24T12:00:00Z");
    // Two headers folded into one: Date.parse would read this as the year 3600.
    expect(parseRetryAfter(new Headers({ "retry-after": "3600, 5" }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers({ "retry-after": "2037-10-21" }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers({ "retry-after": "Wed, 21 Oct 2037 07:28:00 GMT" }), now)).toBe(86_400_000);
    expect(parseRetryAfter(new Headers({ "retry-after": "99999999999999999999" }), now)).toBe(86_400_000);
    expect(parseRetryAfter(new Headers({ "retry-after": "-5" }), now)).toBeUndefined();
    // Whole seconds only, as HTTP defines them; a date before 2000 is a broken clock.
    expect(parseRetryAfter(new Headers({ "retry-after": "1.5" }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers({ "retry-after": "Wed, 21 Oct 1999 07:28:00 GMT" }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers({ "retry-after": "Mon, 24 Nov 2025 12:00:00 GMT" }), now)).toBe(0);
  });
});

describe("the error for an exhausted chain", () => {
  const attempt = (provider: string, failure: FailedAttempt["failure"]): FailedAttempt => ({ provider, model: "m", status: failure.status, reason: failure.reason, failure });

  test("all rate limited → 429 with the shortest Retry-After", () => {
    const e = exhaustedError("smart", [
      attempt("a", { status: 429, kind: "status", reason: "HTTP 429", action: "next", retryAfterMs: 30000 }),
      attempt("b", { status: 429, kind: "status", reason: "HTTP 429", action: "next", retryAfterMs: 4000 }),
    ]);
    expect(e.status).toBe(429);
    expect(e.headers["retry-after"]).toBe("4");
    expect(e.attempts?.map((a) => a.provider)).toEqual(["a", "b"]);
  });

  test("all timeouts → 504; availability failures → 503; otherwise 502; every attempt listed", () => {
    const timeout = attempt("a", { status: null, kind: "timeout", reason: "silent", action: "next" });
    expect(exhaustedError("m", [timeout, timeout]).status).toBe(504);
    const down = attempt("b", { status: 500, kind: "status", reason: "HTTP 500", action: "next" });
    expect(exhaustedError("m", [timeout, down]).status).toBe(503);
    const denied = attempt("c", { status: 401, kind: "status", reason: "HTTP 401", action: "next" });
    const e = exhaustedError("m", [down, denied]);
    expect(e.status).toBe(502);
    expect(e.message).toBe("all 2 sources for 'm' failed: b/m: HTTP 500; c/m: HTTP 401");
  });
});
