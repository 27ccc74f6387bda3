// Quota windows of a subscription plan (SPEC §15), as read from its answers, and what they mean
// for routing: an account whose window is rejected or above `spill_at` is demoted until the
// window resets. Pure: times are passed in.

export type WindowStatus = "allowed" | "allowed_warning" | "rejected";

export interface QuotaWindow {
  /** `5h`, `7d`, `7d_sonnet` (Claude's own names); Codex windows by length: `300m`, `10080m`. */
  name: string;
  /** Length in minutes, when known. */
  minutes: number | null;
  /** 0–1. */
  utilization: number | null;
  status: WindowStatus | null;
  /** ms since the epoch. */
  resetsAt: number | null;
  /**
   * The models it limits, when not all (`sonnet` for Claude's `7d_sonnet`; a Codex family's limit
   * name): it demotes only targets whose model id contains this.
   */
  scope: string | null;
}

export interface PlanWindows {
  /** The plan's overall verdict on the last answer. */
  status: WindowStatus | null;
  /** ms since the epoch: when the overall verdict resets. */
  resetsAt: number | null;
  /** The window that decides the verdict, by `name`, when the plan says. */
  binding: string | null;
  windows: QuotaWindow[];
  /** Other facts worth showing (overage, credits), as the plan named them. */
  notes: Record<string, string>;
  /** ms since the epoch when this was read. */
  observedAt: number;
}

export interface WindowDemotion {
  reason: string;
  /** ms since the epoch. */
  until: number;
  rejected: boolean;
}

/** A rejection without a reset time keeps the account demoted this long (ms). */
export const UNKNOWN_RESET_MS = 60_000;

/** The furthest ahead a source may name a time (ms): beyond a month it is a broken value, not a window. */
const MAX_AHEAD_MS = 31 * 86_400_000;
/** 2000-01-01: anything before is a broken value (a reset of `1`), not a time. */
const EARLIEST_MS = 946_684_800_000;

/** A time a source named (ms since the epoch), or null when it cannot be one: not finite, before 2000, or more than a month after `now`. */
export function saneTime(ms: number | null | undefined, now: number): number | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < EARLIEST_MS || ms > now + MAX_AHEAD_MS) return null;
  return Math.round(ms);
}

/** Most windows kept per plan: the names come from the source, and each is a metrics series. */
export const MAX_WINDOWS = 8;

/** A utilisation a source reported (0–1, a little past 1 when over): null when it cannot be one. */
export function saneUtilization(value: number | null): number | null {
  return value === null || !Number.isFinite(value) || value < 0 || value > 10 ? null : value;
}

/**
 * Why the account must wait, or undefined when it may serve first. Windows whose reset has passed
 * no longer count, so an account comes back by itself.
 */
export function windowDemotion(plan: PlanWindows | undefined, now: number, spillAt: number, model: string): WindowDemotion | undefined {
  if (!plan) return undefined;
  const lower = model.toLowerCase();
  let demotion: WindowDemotion | undefined;
  const consider = (candidate: WindowDemotion) => {
    if (candidate.until <= now) return;
    if (!demotion || (candidate.rejected && !demotion.rejected) || (candidate.rejected === demotion.rejected && candidate.until > demotion.until)) demotion = candidate;
  };
  for (const w of plan.windows) {
    if (w.scope !== null && !lower.includes(w.scope)) continue;
    const until = w.resetsAt ?? plan.observedAt + UNKNOWN_RESET_MS;
    if (w.status === "rejected") consider({ reason: `${describeWindow(w)} rejected`, until, rejected: true });
    else if (w.utilization !== null && w.utilization >= spillAt) {
      consider({ reason: `${describeWindow(w)} at ${percent(w.utilization)} (spill_at ${percent(spillAt)})`, until, rejected: false });
    }
  }
  if (plan.status === "rejected" && !demotion?.rejected) {
    const binding = plan.windows.find((w) => w.name === plan.binding);
    consider({ reason: `plan rejected${binding ? ` (${describeWindow(binding)})` : ""}`, until: plan.resetsAt ?? binding?.resetsAt ?? plan.observedAt + UNKNOWN_RESET_MS, rejected: true });
  }
  return demotion;
}

/** The window that binds: the plan's own choice, else the fullest one still running. */
export function bindingWindow(plan: PlanWindows, now: number): QuotaWindow | undefined {
  const running = plan.windows.filter((w) => w.resetsAt === null || w.resetsAt > now);
  return running.find((w) => w.name === plan.binding) ?? [...running].sort((a, b) => (b.utilization ?? 0) - (a.utilization ?? 0))[0];
}

/** `5h window`, `7d_sonnet window`, `300-minute window`. */
function describeWindow(w: QuotaWindow): string {
  return /^\d+m$/.test(w.name) ? `${w.minutes ?? w.name.slice(0, -1)}-minute window` : `${w.name} window`;
}

export function percent(ratio: number): string {
  const value = ratio * 100;
  return `${Number.isInteger(value) ? value : value.toFixed(1)}%`;
}
