// Reads a plan's windows wherever an answer states them and keeps them per account in the
// router's state: headers of every answer, a rejection's body, Codex's in-band event.
import type { Target } from "../routing/order.ts";
import { accountKey, type TargetState } from "../state/target-state.ts";
import { claudeWindows } from "./claude.ts";
import { codexEventWindows, codexLimitBody, codexWindows } from "./codex.ts";
import type { PlanWindows } from "./window.ts";

/** What a plan says about its windows, wherever it says it (SPEC §15). */
export interface PlanObserver {
  /** Any answer's headers and status, 2xx or not. */
  headers(target: Target, headers: Headers, status: number): void;
  /** An error answer's body (after its headers); when the plan is out, the reset (ms since the epoch). */
  rejection(target: Target, status: number, body: string): number | undefined;
  /** An in-band statement (the `limits` stream event). */
  event(target: Target, data: Record<string, unknown>): void;
}

export function createPlanObserver(state: TargetState, now: () => number = Date.now): PlanObserver {
  const keyOf = (target: Target) => accountKey(target.source.id, target.account.label);
  return {
    headers(target, headers, status) {
      const at = now();
      const key = keyOf(target);
      const read = target.source.plan === "anthropic" ? claudeWindows(headers, at) : codexWindows(headers, at);
      if (read) state.recordWindows(key, keepNotes(state.windows(key), read));
      else if (status >= 200 && status < 300) {
        // An answer is proof the plan no longer rejects, even one that states no windows.
        const known = state.windows(key);
        if (known?.status === "rejected") state.recordWindows(key, { ...known, status: null, resetsAt: null, observedAt: at });
      }
    },
    rejection(target, status, body) {
      const key = keyOf(target);
      const at = now();
      if (target.source.plan === "openai-codex") {
        const limit = codexLimitBody(body, at);
        if (!limit) return undefined;
        const known = state.windows(key);
        state.recordWindows(key, {
          ...(known ?? { binding: null, windows: [], notes: {} }),
          status: "rejected",
          resetsAt: limit.resetsAt,
          notes: { ...(known?.notes ?? {}), "rejected-type": limit.type },
          observedAt: at,
        });
        return limit.resetsAt ?? undefined;
      }
      // Claude says it in the headers just read; the body is a plain rate_limit_error.
      const known = state.windows(key);
      if (status === 429 && known?.status === "rejected" && at - known.observedAt < 1000) return known.resetsAt ?? undefined;
      return undefined;
    },
    event(target, data) {
      const read = codexEventWindows(data, now());
      if (read && read.windows.length > 0) state.recordWindows(keyOf(target), keepNotes(state.windows(keyOf(target)), read));
    },
  };
}

/** Facts an answer did not repeat (credits on a 2xx without them) stay known. */
function keepNotes(previous: PlanWindows | undefined, next: PlanWindows): PlanWindows {
  if (!previous) return next;
  const { "rejected-type": _gone, ...kept } = previous.notes;
  return { ...next, notes: { ...kept, ...next.notes } };
}
