// The live tail behind the dashboard (SPEC §19): the last requests, kept in memory, and a
// fan-out to whoever is watching. Fed by the same RequestEvent as the ledger and the metrics;
// nothing here blocks the request path (a watcher that cannot keep up is dropped, not waited on).
import { type Buckets, bucketsOf } from "../ledger/prices.ts";
import type { RequestEvent } from "../request-event.ts";

/** One finished request as the dashboard shows it. Times in ms; `at` since the epoch. */
export interface LiveEntry {
  id: string;
  at: number;
  protocol: string;
  model: string;
  stream: boolean;
  status: number;
  served: { provider: string; account: string; model: string; kind: string } | null;
  failovers: { provider: string; model: string | null; account: string | null; status: number | null; reason: string }[];
  tokens: Buckets | null;
  ttftMs: number | null;
  durationMs: number;
}

export interface LiveFeed {
  record(event: RequestEvent): void;
  /** The kept entries, oldest first. */
  recent(): LiveEntry[];
  /**
   * Calls `watcher` with each new entry until the returned function is called; null when full.
   * `onClose` is told when the feed closes (the server stops): the watcher should end.
   */
  watch(watcher: (entry: LiveEntry) => void, onClose?: () => void): (() => void) | null;
  /** Ends every watcher (a stopping server must not wait for open pages). */
  close(): void;
}

export interface LiveFeedOptions {
  /** Entries kept for a page that opens now (default 200). */
  capacity?: number;
  /** Pages watching at once (default 32): each costs a little per request. */
  maxWatchers?: number;
}

export function createLiveFeed(options: LiveFeedOptions = {}): LiveFeed {
  const capacity = options.capacity ?? 200;
  const maxWatchers = options.maxWatchers ?? 32;
  // Events as they came: an entry is built only when someone looks (most requests, nobody does).
  const ring: RequestEvent[] = [];
  let next = 0;
  const watchers = new Map<(entry: LiveEntry) => void, (() => void) | undefined>();
  return {
    record(event) {
      if (ring.length < capacity) ring.push(event);
      else ring[next] = event;
      next = (next + 1) % capacity;
      if (watchers.size === 0) return;
      const entry = liveEntry(event);
      for (const watcher of watchers.keys()) watcher(entry);
    },
    recent() {
      return (ring.length < capacity ? ring : [...ring.slice(next), ...ring.slice(0, next)]).map(liveEntry);
    },
    watch(watcher, onClose) {
      if (watchers.size >= maxWatchers) return null;
      watchers.set(watcher, onClose);
      return () => watchers.delete(watcher);
    },
    close() {
      const closing = [...watchers.values()];
      watchers.clear();
      for (const onClose of closing) onClose?.();
    },
  };
}

export function liveEntry(event: RequestEvent): LiveEntry {
  const usage = event.usage;
  return {
    id: event.requestId,
    at: event.at,
    protocol: event.protocol,
    model: event.requestedModel,
    stream: event.stream,
    status: event.status,
    served: event.served ? { provider: event.served.provider, account: event.served.account, model: event.served.upstreamModel, kind: event.served.kind } : null,
    failovers: event.failed.map((f) => ({ provider: f.provider, model: f.model ?? null, account: f.account ?? null, status: f.status, reason: f.reason ?? (f.status === null ? "no answer" : `HTTP ${f.status}`) })),
    // The ledger's five buckets: uncached input apart from cache reads and writes.
    tokens: usage ? bucketsOf(usage) : null,
    ttftMs: event.ttftMs ?? null,
    durationMs: event.durationMs,
  };
}
