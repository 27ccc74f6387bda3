// Passive health of one target (SPEC §14): what an attempt's outcome does to it, and what it is
// at a given moment. Pure: the clock and the random jitter are passed in.
import type { AttemptFailure } from "../routing/classify.ts";

export interface HealthPolicy {
  enabled: boolean;
  /** Consecutive 5xx / connect / timeout failures before the target cools. */
  allowedFails: number;
  /** The first cooling period without a time named by the source; doubles per strike. */
  cooldownMinMs: number;
  cooldownMaxMs: number;
}

export const DEFAULT_HEALTH: HealthPolicy = { enabled: true, allowedFails: 3, cooldownMinMs: 10_000, cooldownMaxMs: 300_000 };

/** The longest a target is kept cooling on a source's word (ms): a month, the longest plan window. */
const MAX_COOLING_MS = 31 * 86_400_000;

/** How long one request may hold a probe before another may try (a probe that never reports back). */
export const PROBE_LEASE_MS = 60_000;

/** What an attempt came to, as far as the target's health is concerned. */
export type Outcome =
  | { kind: "success" }
  /** The source said "not now" (429, 503, 529, a quota rejection): cools at once. */
  | { kind: "overloaded"; reason: string; untilMs?: number }
  /** A failure that counts toward `allowedFails` (5xx, connect, timeout, broken stream). */
  | { kind: "failed"; reason: string };

export interface TargetHealth {
  state: "cooling" | "probing" | "failing";
  /** Why, in words: `HTTP 429`, `3 failures in a row: connect refused`. Never a secret. */
  reason: string;
  /** ms since the epoch: when cooling ends (cooling), when the probe's lease ends (probing). */
  until: number | null;
  /** Failures in a row since the last success or cooling. */
  failures: number;
  /** Cooling periods in a row without a success: the backoff's exponent. */
  strikes: number;
  /** ms since the epoch of the last recorded outcome. */
  at: number;
}

/** The state a reader acts on: `due` = cooling has run out and no probe is out. */
type HealthView = "ok" | "cooling" | "probing" | "due";

export function viewOf(health: TargetHealth | undefined, now: number): HealthView {
  if (!health || health.state === "failing") return "ok";
  if (health.until !== null && health.until > now) return health.state;
  return "due";
}

/**
 * The health after `outcome`. `undefined` means plainly ok (nothing worth keeping): a success
 * forgets everything, including strikes.
 */
export function afterOutcome(previous: TargetHealth | undefined, outcome: Outcome, policy: HealthPolicy, now: number, random: () => number = Math.random): TargetHealth | undefined {
  if (outcome.kind === "success") return undefined;
  const strikes = previous?.strikes ?? 0;
  const cool = (reason: string, untilMs?: number): TargetHealth => ({
    state: "cooling",
    reason,
    until: untilMs !== undefined && Number.isFinite(untilMs) ? Math.min(untilMs, now + MAX_COOLING_MS) : now + backoffMs(strikes, policy, random),
    failures: 0,
    strikes: strikes + 1,
    at: now,
  });
  // Still cooling: this is a request that was under way before the target cooled (or one sent
  // because everything was cooling). It says nothing new; only a later named time extends it.
  if (previous?.state === "cooling" && previous.until !== null && previous.until > now) {
    if (outcome.kind === "overloaded" && outcome.untilMs !== undefined && outcome.untilMs > previous.until) return { ...previous, until: Math.min(outcome.untilMs, now + MAX_COOLING_MS), at: now };
    return previous;
  }
  if (outcome.kind === "overloaded") return cool(outcome.reason, outcome.untilMs);
  // A probe that fails (or a due target tried again) sends it straight back to cooling, for longer.
  if (previous && previous.state !== "failing") return cool(`probe failed: ${outcome.reason}`);
  const failures = (previous?.failures ?? 0) + 1;
  if (failures >= policy.allowedFails) return cool(failures === 1 ? outcome.reason : `${failures} failures in a row, last: ${outcome.reason}`);
  return { state: "failing", reason: outcome.reason, until: null, failures, strikes, at: now };
}

/** 10 s, 20 s, 40 s … up to the maximum, each ±10 % so that many targets do not return at once. */
export function backoffMs(strikes: number, policy: HealthPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.cooldownMaxMs, policy.cooldownMinMs * 2 ** Math.min(strikes, 30));
  return Math.round(base * (0.9 + random() * 0.2));
}

/**
 * What a failed attempt means for health (SPEC §14), or null when it says nothing about the
 * source: the request's own fault (400/413/422), a field the protocol cannot carry, a client
 * that left.
 */
export function outcomeOf(failure: AttemptFailure, now: number): Outcome | null {
  if (failure.action === "surface" || failure.kind === "unsupported") return null;
  const status = failure.status;
  const reason = failure.reason.length > 120 ? `${failure.reason.slice(0, 117)}...` : failure.reason;
  if (status === 429 || status === 503 || status === 529 || status === 402) {
    return { kind: "overloaded", reason, untilMs: failure.resumeAt ?? (failure.retryAfterMs === undefined ? undefined : now + failure.retryAfterMs) };
  }
  return { kind: "failed", reason };
}
