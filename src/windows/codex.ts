// ChatGPT plan (Codex) windows (SPEC §15), from the three places the backend states them, in the
// formats the Codex CLI itself reads (openai/codex, codex-rs/codex-api/src/rate_limits.rs):
// - headers `x-codex-primary-*` / `x-codex-secondary-*` (`used-percent` 0–100, `window-minutes`,
//   `reset-at` Unix seconds or the older `reset-after-seconds`), per-model families as
//   `x-codex-<family>-primary-*` with `-limit-name`, credits as `x-codex-credits-*`;
// - the `codex.rate_limits` stream event (`rate_limits.primary.used_percent`, …, `reset_at`);
// - a 429 `{"error":{"type":"usage_limit_reached","resets_at":…,"resets_in_seconds":…}}`.
// Windows are named by their length (`300m`, `10080m`), never by primary/secondary, whose
// meaning has changed before (a Pro plan's primary has been the weekly window).
import { epochMs } from "./claude.ts";
import { MAX_WINDOWS, type PlanWindows, type QuotaWindow, saneTime, saneUtilization } from "./window.ts";

const FAMILY = /^x-codex-(?:([a-z0-9-]+)-)?primary-used-percent$/;
const SLOTS = ["primary", "secondary"] as const;
const NOTE_HEADERS = ["x-codex-plan-type", "x-codex-active-limit", "x-codex-credits-has-credits", "x-codex-credits-unlimited", "x-codex-credits-balance", "x-codex-rate-limit-reached-type"];

export function codexWindows(headers: Headers, now: number): PlanWindows | undefined {
  const windows: QuotaWindow[] = [];
  let seen = false;
  for (const [name] of headers) {
    if (!name.startsWith("x-codex-")) continue;
    seen = true;
    const match = FAMILY.exec(name);
    if (!match) continue;
    const family = match[1];
    const prefix = family ? `x-codex-${family}-` : "x-codex-";
    const scope = family ? (headers.get(`${prefix}limit-name`) ?? family).toLowerCase() : null;
    for (const slot of SLOTS) {
      const reset = headers.get(`${prefix}${slot}-reset-at`);
      const after = headers.get(`${prefix}${slot}-reset-after-seconds`);
      const window = toWindow(
        {
          used: headers.get(`${prefix}${slot}-used-percent`),
          minutes: headers.get(`${prefix}${slot}-window-minutes`),
          resetsAt: saneTime(epochMs(reset) ?? (after !== null && Number(after) > 0 ? now + Number(after) * 1000 : null), now),
        },
        scope,
      );
      if (window) windows.push(window);
    }
  }
  if (!seen) return undefined;
  const notes: Record<string, string> = {};
  for (const name of NOTE_HEADERS) {
    const value = headers.get(name);
    if (value !== null && value !== "") notes[name.slice("x-codex-".length)] = value;
  }
  return { status: null, resetsAt: null, binding: null, windows: sorted(windows), notes, observedAt: now };
}

/** The `codex.rate_limits` event's payload (the whole event object). */
export function codexEventWindows(event: Record<string, unknown>, now: number): PlanWindows | undefined {
  const limits = object(event.rate_limits);
  if (!limits) return undefined;
  const windows: QuotaWindow[] = [];
  const add = (slots: Record<string, unknown>, scope: string | null) => {
    for (const slot of SLOTS) {
      const w = object(slots[slot]);
      if (!w) continue;
      const after = typeof w.reset_after_seconds === "number" && w.reset_after_seconds > 0 ? now + w.reset_after_seconds * 1000 : null;
      const window = toWindow({ used: w.used_percent, minutes: w.window_minutes, resetsAt: saneTime(epochMs(w.reset_at as number | undefined) ?? after, now) }, scope);
      if (window) windows.push(window);
    }
  };
  add(limits, null);
  for (const [name, slots] of Object.entries(object(event.additional_rate_limits) ?? {})) {
    const value = object(slots);
    if (value) add(value, name.toLowerCase());
  }
  const notes: Record<string, string> = {};
  if (typeof event.plan_type === "string") notes["plan-type"] = event.plan_type;
  const credits = object(event.credits);
  if (credits) {
    for (const key of ["has_credits", "unlimited", "balance"]) if (credits[key] !== undefined && credits[key] !== null) notes[`credits-${key.replace("_", "-")}`] = String(credits[key]);
  }
  const limitName = typeof event.metered_limit_name === "string" ? event.metered_limit_name : typeof event.limit_name === "string" ? event.limit_name : undefined;
  if (limitName) notes["active-limit"] = limitName;
  return { status: limits.limit_reached === true ? "rejected" : null, resetsAt: null, binding: null, windows: sorted(windows), notes, observedAt: now };
}

/**
 * A 429 (or 403) body that says the plan is used up: `usage_limit_reached`, or
 * `usage_not_included` (the plan has no Codex). The reset in ms since the epoch, or null when
 * the body says none; undefined when it is not such a body.
 */
export function codexLimitBody(body: string, now: number): { type: string; resetsAt: number | null } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const error = object(object(parsed)?.error);
  const type = typeof error?.type === "string" ? error.type : typeof error?.code === "string" ? error.code : undefined;
  if (!error || (type !== "usage_limit_reached" && type !== "usage_not_included")) return undefined;
  const inSeconds = typeof error.resets_in_seconds === "number" && error.resets_in_seconds > 0 ? now + error.resets_in_seconds * 1000 : null;
  return { type, resetsAt: saneTime(epochMs(error.resets_at as number | undefined) ?? inSeconds, now) };
}

function toWindow(raw: { used: unknown; minutes: unknown; resetsAt: number | null }, scope: string | null): QuotaWindow | undefined {
  const used = number(raw.used);
  const minutes = number(raw.minutes);
  const utilization = used === null ? null : saneUtilization(used / 100);
  // The backend sends an empty second slot as zeros and blanks.
  if ((used ?? 0) === 0 && (minutes ?? 0) === 0 && raw.resetsAt === null) return undefined;
  const length = minutes !== null && Number.isInteger(minutes) && minutes > 0 && minutes <= 527_040 ? minutes : null;
  // Named by its length; a window that does not say its length is just "window".
  const name = length === null ? "window" : `${length}m`;
  return { name: scope ? `${scope} ${name}` : name, minutes: length, utilization, status: null, resetsAt: raw.resetsAt, scope };
}

function sorted(windows: QuotaWindow[]): QuotaWindow[] {
  return windows.sort((a, b) => Number(a.scope !== null) - Number(b.scope !== null) || (a.minutes ?? Infinity) - (b.minutes ?? Infinity)).slice(0, MAX_WINDOWS);
}

function number(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string" || value.trim() === "") return null;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : null;
}

function object(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
