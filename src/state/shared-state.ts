// The router's memory shared by several instances through Redis (SPEC §20). Reads stay local and
// synchronous (the request path never waits on Redis); every change is applied here first, then
// written to Redis with a TTL and announced on a pub/sub channel, both in the background. Other
// instances apply the announcements as they come, and every instance loads what Redis holds
// when it (re)connects, so an instance that was cut off catches up. While Redis is down the
// local state carries on alone.
//
// In Redis, under the prefix (`bitrouter` unless configured):
//   {prefix}:h:{target}          a target's health (JSON), until it cools down plus an hour
//   {prefix}:w:{account}         a plan account's windows (JSON), until the last window resets
//   {prefix}:a:{source}␀{session} the account a conversation is bound to, for the session TTL
//   {prefix}:r:{group}           a round-robin group's position (a counter)
//   {prefix}:events              the channel announcing each change
import { z } from "zod";
import type { TargetHealth } from "./health.ts";
import type { RedisLink } from "./redis.ts";
import type { LocalState, TargetState } from "./target-state.ts";
import type { PlanWindows } from "../windows/window.ts";
import type { Logger } from "../log.ts";

export interface SharedStateOptions {
  local: LocalState;
  link: RedisLink;
  /** Key prefix: instances with the same prefix share (default `bitrouter`). */
  prefix?: string;
  /** This instance's id, so it ignores its own announcements. */
  instanceId: string;
  log: Logger;
  now?: () => number;
}

/** An announcement on the channel. */
type Announcement =
  | { from: string; kind: "health"; key: string; value: TargetHealth | null }
  | { from: string; kind: "windows"; key: string; value: PlanWindows }
  | { from: string; kind: "affinity"; key: string; value: { label: string; expiresAt: number } }
  | { from: string; kind: "rotation"; key: string; value: number };

// What another instance (or anything else that can write to Redis) hands over is checked before it
// is believed: one malformed value must not break routing, status or metrics on every instance.
const time = z.number().finite();
const healthSchema = z.object({
  state: z.enum(["cooling", "probing", "failing"]),
  reason: z.string().max(2_000),
  until: time.nullable(),
  failures: z.number().int().min(0),
  strikes: z.number().int().min(0).max(64),
  at: time,
});
const windowStatus = z.enum(["allowed", "allowed_warning", "rejected"]).nullable();
const windowsSchema = z.object({
  status: windowStatus,
  resetsAt: time.nullable(),
  binding: z.string().max(64).nullable(),
  windows: z
    .array(z.object({ name: z.string().max(64), minutes: time.nullable(), utilization: time.nullable(), status: windowStatus, resetsAt: time.nullable(), scope: z.string().max(128).nullable() }))
    .max(16),
  notes: z.record(z.string(), z.string()),
  observedAt: time,
});
const announcementSchema = z.discriminatedUnion("kind", [
  z.object({ from: z.string(), kind: z.literal("health"), key: z.string(), value: healthSchema.nullable() }),
  z.object({ from: z.string(), kind: z.literal("windows"), key: z.string(), value: windowsSchema }),
  z.object({ from: z.string(), kind: z.literal("affinity"), key: z.string(), value: z.object({ label: z.string().max(64), expiresAt: time }) }),
  z.object({ from: z.string(), kind: z.literal("rotation"), key: z.string(), value: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
]);

/** `text` as `schema` says, or undefined (not JSON, or not that shape). */
function parsed<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/** Writes waiting on Redis at most; past this, changes stay local (Redis is slow or stuck). */
const MAX_PENDING_WRITES = 1_000;
/** Health kept in Redis past its cooling (ms): long enough for a probe to report back. */
const HEALTH_GRACE_MS = 3_600_000;
/** Windows are kept at least this long, at most a month (ms). */
const WINDOWS_MIN_MS = 3_600_000;
const WINDOWS_MAX_MS = 31 * 86_400_000;
/** Sets a counter to ARGV[1] unless it is already past it. */
const RAISE = "local v = tonumber(redis.call('get', KEYS[1]) or '0') or 0; if tonumber(ARGV[1]) > v then redis.call('set', KEYS[1], ARGV[1]) end; return 0";
/** Keys read per SCAN step and per MGET when catching up. */
const SCAN_COUNT = "500";

export interface SharedState extends TargetState {
  /** Load what Redis holds and write back what this instance knows better; resolves when done (or Redis failed). */
  resync(): Promise<void>;
}

export function createSharedState(options: SharedStateOptions): SharedState {
  const { local, link, instanceId, log } = options;
  const now = options.now ?? Date.now;
  const prefix = options.prefix ?? "bitrouter";
  const channel = `${prefix}:events`;
  let pending = 0;
  let dropped = 0;

  /** Fire and forget: a failed or dropped write leaves the change local, which is the fallback anyway. */
  const write = (command: string, args: string[]) => {
    if (!link.up) return;
    if (pending >= MAX_PENDING_WRITES) {
      if (dropped++ === 0) log.warn("redis is slow: changes stay local until it catches up", { pending });
      return;
    }
    pending++;
    link.send(command, args).then(
      () => {
        pending--;
        if (pending === 0 && dropped > 0) dropped = 0;
      },
      () => {
        pending--;
      },
    );
  };
  const announce = (message: Announcement) => write("PUBLISH", [channel, JSON.stringify(message)]);

  const healthTtl = (health: TargetHealth) => Math.max(1_000, (health.until ?? now()) - now() + HEALTH_GRACE_MS);
  const windowsTtl = (windows: PlanWindows) => {
    const resets = [windows.resetsAt ?? 0, ...windows.windows.map((w) => w.resetsAt ?? 0)];
    return Math.min(WINDOWS_MAX_MS, Math.max(WINDOWS_MIN_MS, Math.max(...resets) - now() + WINDOWS_MIN_MS));
  };

  const shareHealth = (target: string, health: TargetHealth | undefined) => {
    if (health) write("SET", [`${prefix}:h:${target}`, JSON.stringify(health), "PX", String(Math.round(healthTtl(health)))]);
    else write("DEL", [`${prefix}:h:${target}`]);
    announce({ from: instanceId, kind: "health", key: target, value: health ?? null });
  };
  const shareWindows = (account: string, windows: PlanWindows) => {
    write("SET", [`${prefix}:w:${account}`, JSON.stringify(windows), "PX", String(Math.round(windowsTtl(windows)))]);
    announce({ from: instanceId, kind: "windows", key: account, value: windows });
  };

  const apply = (message: Announcement) => {
    switch (message.kind) {
      case "health": {
        const known = local.get(message.key);
        // The later record wins: an announcement overtaken by a newer local one is dropped.
        if (message.value === null) local.putHealth(message.key, undefined);
        else if (!known || known.at <= message.value.at) local.putHealth(message.key, message.value);
        return;
      }
      case "windows": {
        const known = local.windows(message.key);
        if (!known || known.observedAt <= message.value.observedAt) local.putWindows(message.key, message.value);
        return;
      }
      case "affinity": {
        const [source = "", session = ""] = splitOnce(message.key);
        local.putAffinity(session, source, message.value.label, message.value.expiresAt);
        return;
      }
      case "rotation":
        local.putRotation(message.key, message.value);
        return;
    }
  };

  link.subscribe(channel, (text) => {
    // Not ours, or malformed (another version, or garbage): it changes nothing.
    const message = parsed(announcementSchema, text) as Announcement | undefined;
    if (message && message.from !== instanceId) apply(message);
  });

  /** Every key under `pattern`, with its value, read in batches. */
  const scan = async (pattern: string): Promise<[string, string][]> => {
    const out: [string, string][] = [];
    let cursor = "0";
    do {
      const [next, keys] = (await link.send("SCAN", [cursor, "MATCH", pattern, "COUNT", SCAN_COUNT])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) {
        const values = (await link.send("MGET", keys)) as (string | null)[];
        keys.forEach((key, i) => {
          const value = values[i];
          if (typeof value === "string") out.push([key, value]);
        });
      }
    } while (cursor !== "0");
    return out;
  };

  const resync = async () => {
    try {
      // A value that is not what this version writes is skipped, not believed.
      const remoteHealth = new Map<string, TargetHealth>();
      for (const [key, value] of await scan(`${prefix}:h:*`)) {
        const target = key.slice(prefix.length + 3);
        const health = parsed(healthSchema, value);
        if (!health) continue;
        remoteHealth.set(target, health);
        apply({ from: "", kind: "health", key: target, value: health });
      }
      const remoteWindows = new Map<string, PlanWindows>();
      for (const [key, value] of await scan(`${prefix}:w:*`)) {
        const account = key.slice(prefix.length + 3);
        const windows = parsed(windowsSchema, value);
        if (!windows) continue;
        remoteWindows.set(account, windows);
        apply({ from: "", kind: "windows", key: account, value: windows });
      }
      for (const [key, label] of await scan(`${prefix}:a:*`)) {
        const ttl = Number(await link.send("PTTL", [key]));
        if (ttl > 0 && label.length <= 64) apply({ from: "", kind: "affinity", key: key.slice(prefix.length + 3), value: { label, expiresAt: now() + ttl } });
      }
      // What this instance learned while it was cut off, and Redis does not know better.
      for (const { target, health } of local.list()) {
        const remote = remoteHealth.get(target);
        if (!remote || remote.at < health.at) shareHealth(target, health);
      }
      for (const { account, windows } of local.listWindows()) {
        const remote = remoteWindows.get(account);
        if (!remote || remote.observedAt < windows.observedAt) shareWindows(account, windows);
      }
      // A Redis that restarted empty counts rotations from where the instances are.
      for (const { group, position } of local.listRotations()) write("EVAL", [RAISE, "1", `${prefix}:r:${group}`, String(position)]);
    } catch (err) {
      log.warn("redis resync failed; will try again when it reconnects", { error: (err as Error).message });
    }
  };
  link.onUp(() => void resync());

  return {
    get: (target) => local.get(target),
    record(target, outcome, policy) {
      const before = local.get(target);
      const after = local.record(target, outcome, policy);
      if (before !== undefined || after !== undefined) shareHealth(target, after);
      return after;
    },
    claimProbe(target) {
      const claimed = local.claimProbe(target);
      // The probe's lease goes to the others too, so one instance probes for all.
      if (claimed) shareHealth(target, local.get(target));
      return claimed;
    },
    list: () => local.list(),

    windows: (account) => local.windows(account),
    recordWindows(account, windows) {
      local.recordWindows(account, windows);
      shareWindows(account, windows);
    },
    listWindows: () => local.listWindows(),

    affinity: (session, source) => local.affinity(session, source),
    bind(session, source, label, ttlMs) {
      const known = local.affinity(session, source);
      local.bind(session, source, label, ttlMs);
      const key = `${source}\u0000${session}`;
      write("SET", [`${prefix}:a:${key}`, label, "PX", String(Math.round(ttlMs))]);
      // Others learn a new binding at once; a kept one only needs its TTL slid in Redis.
      if (known !== label) announce({ from: instanceId, kind: "affinity", key, value: { label, expiresAt: now() + ttlMs } });
    },

    rotate(group, advance = true) {
      const position = local.rotate(group, advance);
      if (advance && link.up) {
        // The fleet's counter: this instance moves to where it says, so turns spread over all.
        link.send("INCR", [`${prefix}:r:${group}`]).then(
          (value) => local.putRotation(group, Number(value)),
          () => {},
        );
      }
      return position;
    },
    resync,
  };
}

function splitOnce(key: string): [string, string] {
  const at = key.indexOf("\u0000");
  return at === -1 ? [key, ""] : [key.slice(0, at), key.slice(at + 1)];
}
