// What `GET /bitrouter/status` answers and `bitrouter status` prints: every source with its
// accounts, every target with something on record, every plan account's windows. Times are ISO
// strings (UTC) with a countdown in seconds beside them, so a reader needs no clock of its own.
import type { Registry } from "../sources/registry.ts";
import { viewOf } from "./health.ts";
import { accountKey, splitKey, type TargetState } from "./target-state.ts";
import { UNKNOWN_RESET_MS, windowDemotion } from "../windows/window.ts";

/** Where the state is shared (SPEC §20), when it is. */
export interface SharedStatus {
  /** The Redis URL with any password replaced. */
  redis: string;
  prefix: string;
  /** Connected now; false while this instance goes on with its own state. */
  up: boolean;
}

export interface StatusReport {
  now: string;
  /** Shared through Redis, or null for this instance alone. */
  shared: SharedStatus | null;
  uptime_secs: number;
  health_policy: { enabled: boolean; allowed_fails: number; cooldown_min_secs: number; cooldown_max_secs: number };
  spill_at: number;
  session_ttl_secs: number;
  sources: {
    provider: string;
    kind: string;
    active: boolean;
    reason: string;
    account_strategy: string;
    accounts: { label: string; active: boolean; reason: string }[];
  }[];
  /** Targets that are not plainly ok, or are failing without cooling yet. */
  health: {
    provider: string;
    model: string;
    account: string;
    state: "cooling" | "probing" | "due" | "failing";
    reason: string;
    until: string | null;
    in_secs: number | null;
    failures: number;
    strikes: number;
  }[];
  plans: {
    provider: string;
    account: string;
    /** null until the plan has answered with its windows once. */
    status: string | null;
    /** The last verdict was a rejection whose reset has passed since. */
    stale: boolean;
    observed_at: string | null;
    binding: string | null;
    resets_at: string | null;
    demoted: { reason: string; until: string | null; in_secs: number | null } | null;
    windows: { name: string; minutes: number | null; utilization: number | null; status: string | null; resets_at: string | null; in_secs: number | null; scope: string | null }[];
    notes: Record<string, string>;
  }[];
}

/** ISO text of a time, or null when it is none (never an exception for a broken value). */
export function isoTime(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function statusReport(registry: Registry, state: TargetState, now: number, startedAt: number, shared?: SharedStatus): StatusReport {
  const settings = registry.settings;
  const iso = isoTime;
  const secs = (ms: number | null) => (iso(ms) === null ? null : Math.max(0, Math.ceil((ms! - now) / 1000)));
  const sources = [...registry.sources.values()];

  const health = state.list().map(({ target, health }) => {
    const [provider = "", model = "", account = ""] = splitKey(target);
    const view = viewOf(health, now);
    return {
      provider,
      model,
      account,
      state: view === "ok" ? ("failing" as const) : view,
      reason: health.reason,
      until: iso(health.until),
      in_secs: secs(health.until),
      failures: health.failures,
      strikes: health.strikes,
    };
  });

  const plans = sources
    .filter((s) => s.plan && s.active)
    .flatMap((s) =>
      s.accounts
        .filter((a) => a.active)
        .map((a) => {
          const known = state.windows(accountKey(s.id, a.label));
          // The account-wide demotion (a window any model would hit); per-model windows show in `windows`.
          const demotion = windowDemotion(known, now, settings.spillAt, "");
          return {
            provider: s.id,
            account: a.label,
            status: known?.status ?? (known ? "allowed" : null),
            stale: known?.status === "rejected" && (known.resetsAt ?? known.observedAt + UNKNOWN_RESET_MS) <= now,
            observed_at: iso(known?.observedAt ?? null),
            binding: known?.binding ?? null,
            resets_at: iso(known?.resetsAt ?? null),
            demoted: demotion ? { reason: demotion.reason, until: iso(demotion.until), in_secs: secs(demotion.until) } : null,
            windows: (known?.windows ?? []).map((w) => ({
              name: w.name,
              minutes: w.minutes,
              utilization: w.utilization,
              status: w.status,
              resets_at: iso(w.resetsAt),
              in_secs: secs(w.resetsAt),
              scope: w.scope,
            })),
            notes: known?.notes ?? {},
          };
        }),
    );

  return {
    now: new Date(now).toISOString(),
    shared: shared ?? null,
    uptime_secs: Math.round((now - startedAt) / 1000),
    health_policy: {
      enabled: settings.health.enabled,
      allowed_fails: settings.health.allowedFails,
      cooldown_min_secs: settings.health.cooldownMinMs / 1000,
      cooldown_max_secs: settings.health.cooldownMaxMs / 1000,
    },
    spill_at: settings.spillAt,
    session_ttl_secs: settings.sessionTtlMs / 1000,
    sources: sources.map((s) => ({
      provider: s.id,
      kind: s.kind,
      active: s.active,
      reason: s.reason,
      account_strategy: s.accountStrategy,
      accounts: s.accounts.map((a) => ({ label: a.label, active: a.active && s.active, reason: a.reason || s.reason })),
    })),
    health,
    plans,
  };
}
