// Claude plan windows from the `anthropic-ratelimit-unified-*` headers every answer carries
// (SPEC §15). Formats, as Claude Code reads them: utilisation is a fraction (it can pass 1),
// resets are Unix seconds, statuses are allowed | allowed_warning | rejected. Per-window headers
// are `…-unified-<window>-{utilization,reset,status}` with windows `5h`, `7d` and per-model
// weekly ones (`7d_sonnet`, `7d_opus`; a hyphen is accepted too).
import { MAX_WINDOWS, type PlanWindows, type QuotaWindow, saneTime, saneUtilization, type WindowStatus } from "./window.ts";

const PREFIX = "anthropic-ratelimit-unified-";
const WINDOW_HEADER = /^anthropic-ratelimit-unified-(\d+[a-z](?:[_-][a-z0-9]+)?)-(utilization|reset|status)$/;
/** The representative claim names windows differently from the headers. */
const CLAIMS: Record<string, string> = { five_hour: "5h", seven_day: "7d", seven_day_opus: "7d_opus", seven_day_sonnet: "7d_sonnet" };
const NOTES = ["overage-status", "overage-reset", "overage-disabled-reason", "overage-in-use", "fallback", "fallback-percentage"];

/** The plan's windows, or undefined when the answer carries none (an API-key source, a proxy). */
export function claudeWindows(headers: Headers, now: number): PlanWindows | undefined {
  const byName = new Map<string, QuotaWindow>();
  let seen = false;
  for (const [name, value] of headers) {
    if (!name.startsWith(PREFIX)) continue;
    seen = true;
    const match = WINDOW_HEADER.exec(name);
    if (!match) continue;
    const windowName = match[1]!.replace("-", "_");
    const window = byName.get(windowName) ?? { name: windowName, minutes: minutesOf(windowName), utilization: null, status: null, resetsAt: null, scope: scopeOf(windowName) };
    byName.set(windowName, window);
    if (match[2] === "utilization") window.utilization = saneUtilization(fraction(value));
    else if (match[2] === "reset") window.resetsAt = saneTime(epochMs(value), now);
    else window.status = status(value);
  }
  if (!seen) return undefined;
  const claim = headers.get(`${PREFIX}representative-claim`);
  const notes: Record<string, string> = {};
  for (const note of NOTES) {
    const value = headers.get(PREFIX + note);
    if (value !== null) notes[note] = value;
  }
  return {
    status: status(headers.get(`${PREFIX}status`)),
    resetsAt: saneTime(epochMs(headers.get(`${PREFIX}reset`)), now),
    binding: claim === null ? null : (CLAIMS[claim] ?? claim),
    windows: [...byName.values()].sort((a, b) => (a.minutes ?? Infinity) - (b.minutes ?? Infinity) || a.name.localeCompare(b.name)).slice(0, MAX_WINDOWS),
    notes,
    observedAt: now,
  };
}

function minutesOf(name: string): number | null {
  const match = /^(\d+)([hd])/.exec(name);
  if (!match) return null;
  return Number(match[1]) * (match[2] === "h" ? 60 : 1440);
}

/** `7d_sonnet` limits Sonnet models only. */
function scopeOf(name: string): string | null {
  const underscore = name.indexOf("_");
  return underscore < 0 ? null : name.slice(underscore + 1);
}

export function status(value: string | null | undefined): WindowStatus | null {
  const v = value?.trim().toLowerCase();
  return v === "allowed" || v === "allowed_warning" || v === "rejected" ? v : null;
}

function fraction(value: string): number | null {
  const n = Number(value.trim());
  return value.trim() !== "" && Number.isFinite(n) ? n : null;
}

/** Unix seconds (as the plans send them) → ms; 0 or junk → null. */
export function epochMs(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n <= 0) return null;
  // Tolerate a source that already sends milliseconds.
  return n > 1e12 ? Math.round(n) : Math.round(n * 1000);
}
