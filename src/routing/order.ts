// A resolved chain of candidates → the targets a request walks (SPEC §14–16). Each candidate
// becomes one target per usable account, in the source's account order (declared, rotated, or
// the soonest-resetting window first), with a conversation kept on the account that served it.
// Then every target that must wait (cooling, a probe out, a plan window rejected or over
// spill_at) is moved behind the rest, soonest back first: moved, never removed, so a request is
// never refused without an attempt.
import type { Account, Settings, Source } from "../sources/registry.ts";
import { viewOf } from "../state/health.ts";
import { accountKey, type TargetState, targetKey } from "../state/target-state.ts";
import { bindingWindow, windowDemotion } from "../windows/window.ts";
import type { Candidate } from "./resolve.ts";

export interface Demotion {
  /** Why, in words: `cooling: HTTP 429`, `5h window at 96% (spill_at 95%)`. */
  reason: string;
  /** ms since the epoch when it may serve first again; null = until a probe succeeds. */
  until: number | null;
}

export interface Target extends Candidate {
  account: Account;
  /** `targetKey(source, upstream model, account)`: where its health is kept. */
  key: string;
  /** The URL base and key this account sends with. */
  apiBase: string;
  apiKey: string | undefined;
  /** Set when the target was moved behind the others. */
  demoted?: Demotion;
  /** Its cooling has run out: an attempt from this request is the probe that brings it back. */
  probe: boolean;
  /** Why it is where it is in the account order (affinity, rotation), when not the declared order. */
  accountWhy?: string;
}

export interface OrderContext {
  state: TargetState;
  settings: Pick<Settings, "health" | "spillAt">;
  now: number;
  /** The conversation this request belongs to (see session.ts), if any. */
  session?: string;
  /** Advance round-robin positions (a request; the default). `bitrouter route` looks without moving them. */
  rotate?: boolean;
}

export function orderTargets(candidates: Candidate[], context: OrderContext): Target[] {
  const ready: Target[] = [];
  const waiting: Target[] = [];
  for (const candidate of candidates) {
    for (const target of accountTargets(candidate, context)) {
      if (target.demoted) waiting.push(target);
      else ready.push(target);
    }
  }
  if (waiting.length === 0) return ready;
  // Stable: equal times keep the chain's order.
  waiting.sort((a, b) => (a.demoted!.until ?? Number.MAX_SAFE_INTEGER) - (b.demoted!.until ?? Number.MAX_SAFE_INTEGER));
  return [...ready, ...waiting];
}

function accountTargets(candidate: Candidate, context: OrderContext): Target[] {
  const source = candidate.source;
  const accounts = source.accounts.length === 1 ? source.accounts : usable(source);
  const targets = accounts.map((account) => toTarget(candidate, account, context));
  if (targets.length <= 1) return targets;

  let ordered = targets;
  if (source.accountStrategy === "round_robin") {
    // One rotation per source, whatever the model: a client naming any model must not grow the table.
    const position = context.state.rotate(source.id, context.rotate !== false) % targets.length;
    ordered = [...targets.slice(position), ...targets.slice(0, position)];
    if (position > 0) ordered[0] = { ...ordered[0]!, accountWhy: `round_robin: its turn (${position + 1} of ${targets.length})` };
  } else if (source.accountStrategy === "drain_soonest") {
    ordered = drainSoonest(targets, source, context);
  }

  // A conversation stays where its prompt cache is, while that account may serve.
  if (context.session !== undefined) {
    const bound = context.state.affinity(context.session, source.id);
    const at = bound === undefined ? -1 : ordered.findIndex((t) => t.account.label === bound);
    if (at >= 0 && !ordered[at]!.demoted) {
      const kept = { ...ordered[at]!, accountWhy: "session affinity: this conversation was served by it" };
      ordered = [kept, ...ordered.slice(0, at), ...ordered.slice(at + 1)];
    }
  }
  return ordered;
}

function usable(source: Source): Account[] {
  return source.accounts.filter((a) => a.active);
}

function toTarget(candidate: Candidate, account: Account, context: OrderContext): Target {
  const source = candidate.source;
  const key = targetKey(source.id, candidate.upstreamModel, account.label);
  const target: Target = {
    ...candidate,
    account,
    key,
    apiBase: account.apiBase ?? source.apiBase,
    apiKey: account.apiKey ?? source.apiKey,
    probe: false,
  };
  if (source.plan) {
    const demotion = windowDemotion(context.state.windows(accountKey(source.id, account.label)), context.now, context.settings.spillAt, candidate.upstreamModel);
    if (demotion) {
      target.demoted = { reason: demotion.reason, until: demotion.until };
      return target;
    }
  }
  if (!context.settings.health.enabled) return target;
  const health = context.state.get(key);
  switch (viewOf(health, context.now)) {
    case "cooling":
      target.demoted = { reason: `cooling: ${health!.reason}`, until: health!.until };
      break;
    case "probing":
      // Another request is finding out; the rest wait in the demoted order until it succeeds.
      target.demoted = { reason: `being probed after: ${health!.reason}`, until: health!.until };
      break;
    case "due":
      target.probe = true;
      break;
  }
  return target;
}

/**
 * Use what resets soonest before it resets; at the same reset, the emptier account first. An
 * account whose windows are not known yet goes first, once: its answer tells them.
 */
function drainSoonest(targets: Target[], source: Source, context: OrderContext): Target[] {
  const facts = targets.map((target, i) => {
    const plan = context.state.windows(accountKey(source.id, target.account.label));
    const window = plan ? bindingWindow(plan, context.now) : undefined;
    return { target, i, known: plan !== undefined, reset: window?.resetsAt ?? Number.MAX_SAFE_INTEGER, used: window?.utilization ?? 0 };
  });
  facts.sort((a, b) => Number(a.known) - Number(b.known) || a.reset - b.reset || a.used - b.used || a.i - b.i);
  return facts.map((f, rank) => {
    if (rank > 0 || f.i === 0) return f.target;
    const why = f.known ? `drain_soonest: its window resets first (${new Date(f.reset).toISOString()})` : "drain_soonest: its windows are not known yet";
    return { ...f.target, accountWhy: why };
  });
}
