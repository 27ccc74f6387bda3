// What the router remembers across requests (SPEC §14–16): target health, plan windows per
// account, session affinity and round-robin positions. Routing reads it to order a chain; the
// attempt records into it; nothing else writes it. Every method is synchronous and local, so
// a shared implementation (SPEC §20) can sit behind the same interface and sync in the
// background, off the request path.
import { afterOutcome, type HealthPolicy, type Outcome, PROBE_LEASE_MS, type TargetHealth, viewOf } from "./health.ts";
import type { PlanWindows } from "../windows/window.ts";

/** `source \0 upstream model \0 account label`. */
export function targetKey(source: string, model: string, account: string): string {
  return `${source}\u0000${model}\u0000${account}`;
}

/** `source \0 account label`: windows and affinity belong to an account, whatever the model. */
export function accountKey(source: string, account: string): string {
  return `${source}\u0000${account}`;
}

export function splitKey(key: string): string[] {
  return key.split("\u0000");
}

export interface TargetState {
  /** One target's health; undefined = ok with nothing on record. */
  get(target: string): TargetHealth | undefined;
  /** Record what an attempt came to; returns the health after it. */
  record(target: string, outcome: Outcome, policy: HealthPolicy): TargetHealth | undefined;
  /** Take the one probe of a target whose cooling has run out; false when another request holds it. */
  claimProbe(target: string): boolean;
  /** Every target with something on record. */
  list(): { target: string; health: TargetHealth }[];

  windows(account: string): PlanWindows | undefined;
  recordWindows(account: string, windows: PlanWindows): void;
  listWindows(): { account: string; windows: PlanWindows }[];

  /** The account label a conversation is bound to at a source. */
  affinity(session: string, source: string): string | undefined;
  /** Bind (or keep bound) a conversation to an account, for `ttlMs` after now. */
  bind(session: string, source: string, label: string, ttlMs: number): void;

  /** The next rotation position of a group (round-robin), counting from 0; `advance: false` only looks. */
  rotate(group: string, advance?: boolean): number;
}

/**
 * The in-process state with the doors a shared state (SPEC §20) needs: put what another
 * instance learned, as it was, without computing it again. The router never calls these.
 */
export interface LocalState extends TargetState {
  /** Set (or, with undefined, clear) a target's health as another instance recorded it. */
  putHealth(target: string, health: TargetHealth | undefined): void;
  putWindows(account: string, windows: PlanWindows): void;
  /** Bind a conversation until `expiresAt` (ms since the epoch). */
  putAffinity(session: string, source: string, label: string, expiresAt: number): void;
  /** Move a rotation forward to at least `position`. */
  putRotation(group: string, position: number): void;
  listRotations(): { group: string; position: number }[];
}

export interface MemoryStateOptions {
  now?: () => number;
  random?: () => number;
  /** Most sessions kept; the least recently used go first. */
  maxSessions?: number;
  /** Most targets with a record kept (a client can name any model); the oldest records go first. */
  maxTargets?: number;
}

export function createMemoryState(options: MemoryStateOptions = {}): LocalState {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const maxSessions = options.maxSessions ?? 100_000;
  const maxTargets = options.maxTargets ?? 10_000;
  const health = new Map<string, TargetHealth>();
  const windows = new Map<string, PlanWindows>();
  const sessions = new Map<string, { label: string; expires: number; placed: number }>();
  const rotations = new Map<string, number>();
  let binds = 0;

  // Expired entries go in a full pass every 1,024 binds (cheap per request); past the cap the
  // oldest bound go first (a Map iterates in insertion order).
  const sweep = (at: number) => {
    if (++binds % 1024 === 0) {
      for (const [key, entry] of sessions) if (entry.expires <= at) sessions.delete(key);
    }
    for (const key of sessions.keys()) {
      if (sessions.size <= maxSessions) break;
      sessions.delete(key);
    }
  };

  // Bounded like the health map: accounts come from the config, but a shared state may announce any.
  const putWindows = (account: string, next: PlanWindows) => {
    windows.delete(account);
    windows.set(account, next);
    if (windows.size > maxTargets) windows.delete(windows.keys().next().value!);
  };

  return {
    get: (target) => health.get(target),
    record(target, outcome, policy) {
      const next = afterOutcome(health.get(target), outcome, policy, now(), random);
      // Re-inserted, so the Map's order is the order of last change and the cap drops the stalest.
      health.delete(target);
      if (next) {
        health.set(target, next);
        if (health.size > maxTargets) health.delete(health.keys().next().value!);
      }
      return next;
    },
    claimProbe(target) {
      const current = health.get(target);
      const at = now();
      if (viewOf(current, at) !== "due" || !current) return false;
      health.set(target, { ...current, state: "probing", until: at + PROBE_LEASE_MS });
      return true;
    },
    list: () => [...health].map(([target, h]) => ({ target, health: h })),

    windows: (account) => windows.get(account),
    recordWindows(account, next) {
      putWindows(account, next);
    },
    listWindows: () => [...windows].map(([account, w]) => ({ account, windows: w })),

    affinity(session, source) {
      const entry = sessions.get(`${source}\u0000${session}`);
      return entry && entry.expires > now() ? entry.label : undefined;
    },
    bind(session, source, label, ttlMs) {
      const key = `${source}\u0000${session}`;
      const at = now();
      const entry = sessions.get(key);
      // The usual case, a conversation's next turn: slide its expiry in place. Moving it to the
      // back (recently used) costs more, so it is done once per half TTL.
      if (entry && at - entry.placed < ttlMs / 2) {
        entry.label = label;
        entry.expires = at + ttlMs;
      } else {
        sessions.delete(key);
        sessions.set(key, { label, expires: at + ttlMs, placed: at });
      }
      sweep(at);
    },

    rotate(group, advance = true) {
      const position = rotations.get(group) ?? 0;
      if (advance) rotations.set(group, position + 1);
      return position;
    },

    putHealth(target, next) {
      health.delete(target);
      if (next) {
        health.set(target, next);
        if (health.size > maxTargets) health.delete(health.keys().next().value!);
      }
    },
    putWindows,
    putAffinity(session, source, label, expiresAt) {
      const key = `${source}\u0000${session}`;
      sessions.delete(key);
      sessions.set(key, { label, expires: expiresAt, placed: now() });
      sweep(now());
    },
    putRotation(group, position) {
      if (position > (rotations.get(group) ?? 0)) rotations.set(group, position);
    },
    listRotations: () => [...rotations].map(([group, position]) => ({ group, position })),
  };
}
