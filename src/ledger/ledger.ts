// The usage ledger's writer (SPEC §17): one row per finished request, priced, queued in memory
// and written in batches from a timer, never from the request. A file that cannot be written
// (a full disk, a locked or removed file) costs one warning, and the rows wait for the next try
// (up to a bound); requests never notice.
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log.ts";
import type { RequestEvent } from "../request-event.ts";
import { bucketsOf, costOf, type Price } from "./prices.ts";
import { openUsageStore, type UsageRow, type UsageStore } from "./store.ts";

export interface LedgerOptions {
  path: string;
  log: Logger;
  /** The price of a model a source served (its config `pricing:`, else the table). */
  priceOf: (provider: string, upstreamModel: string) => Price | undefined;
  retentionDays: () => number;
  /** Whether rows are recorded now (`usage:` in the config, which a reload may change). */
  enabled?: () => boolean;
  /** How long rows wait before a batch is written, ms. */
  flushMs?: number;
  /** Rows kept while the file cannot be written; beyond, the oldest are dropped (and counted). */
  maxQueued?: number;
  now?: () => number;
  /** Also hands each row here (the fleet's Redis stream, SPEC §20); must not throw or block. */
  copyTo?: (row: UsageRow) => void;
  /** Opens the file (tests pass a store that fails). */
  open?: (path: string) => UsageStore;
}

export interface Ledger {
  readonly path: string;
  record(event: RequestEvent): void;
  /** Write what is queued now. */
  flush(): void;
  close(): void;
}

const PRUNE_EVERY_MS = 3_600_000;
/** Rows deleted per step; steps repeat, a turn of the event loop apart, until none is left. */
const PRUNE_BATCH = 5_000;
const SQLITE_HEADER = "SQLite format 3\u0000";

export function createLedger(options: LedgerOptions): Ledger {
  const now = options.now ?? Date.now;
  const flushMs = options.flushMs ?? 250;
  const maxQueued = options.maxQueued ?? 50_000;
  const open = options.open ?? ((path: string) => openUsageStore(path));
  let store: UsageStore | undefined;
  let queue: UsageRow[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failing: string | undefined;
  let dropped = 0;
  let lastPrune = 0;
  let closed = false;

  const connect = (): UsageStore | undefined => {
    if (store) return store;
    try {
      mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
      store = open(options.path);
      return store;
    } catch (err) {
      trouble(`cannot open ${options.path}: ${(err as Error).message}`);
      return undefined;
    }
  };

  /** One warning per kind of trouble, not one per batch. */
  const trouble = (message: string) => {
    if (failing === message) return;
    failing = message;
    options.log.warn("usage ledger cannot write; requests are unaffected and rows wait in memory", { error: message });
  };

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    // A file removed under a running server would swallow rows into a deleted inode, and one
    // overwritten with something else would take them into a WAL nobody can read: start anew.
    if (store && !existsSync(options.path)) {
      trouble(`${options.path} was removed; a new ledger file is started`);
      store.close();
      store = undefined;
    } else if (store && !looksLikeSqlite(options.path)) {
      const aside = `${options.path}.damaged-${now()}`;
      trouble(`${options.path} is no longer a SQLite file; it is moved to ${aside} and a new ledger file is started`);
      store.close();
      store = undefined;
      for (const suffix of ["", "-wal", "-shm"]) {
        try {
          renameSync(`${options.path}${suffix}`, `${aside}${suffix}`);
        } catch {
          // not there
        }
      }
    }
    const target = connect();
    if (!target) return schedule(flushMs * 8);
    const batch = queue;
    try {
      target.insert(batch);
      queue = [];
      if (failing !== undefined) {
        options.log.info("usage ledger writes again", { rows: batch.length, dropped });
        failing = undefined;
        dropped = 0;
      }
    } catch (err) {
      trouble((err as Error).message);
      // A broken handle is reopened on the next try.
      try {
        target.close();
      } catch {
        // already unusable
      }
      store = undefined;
      schedule(flushMs * 8);
      return;
    }
    prune();
  };

  const prune = () => {
    const at = now();
    if (at - lastPrune < PRUNE_EVERY_MS || !store) return;
    lastPrune = at;
    const before = at - options.retentionDays() * 86_400_000;
    // Small batches with the event loop free between them: a big delete would hold it for seconds.
    const step = () => {
      if (closed || !store) return;
      try {
        if (store.prune(before, PRUNE_BATCH) === PRUNE_BATCH) setTimeout(step, 0).unref?.();
      } catch (err) {
        trouble((err as Error).message);
      }
    };
    step();
  };

  const schedule = (ms: number) => {
    if (timer !== undefined || closed) return;
    timer = setTimeout(flush, ms);
    timer.unref?.();
  };

  return {
    path: options.path,
    record(event) {
      if (options.enabled && !options.enabled()) return;
      const row = rowOf(event, options.priceOf);
      queue.push(row);
      options.copyTo?.(row);
      if (queue.length > maxQueued) {
        dropped += queue.length - maxQueued;
        queue.splice(0, queue.length - maxQueued);
      }
      schedule(flushMs);
    },
    flush,
    close() {
      flush();
      closed = true;
      clearTimeout(timer);
      store?.close();
      store = undefined;
    },
  };
}

/** Whether the file still starts as a SQLite database does (an empty one is new: fine). */
function looksLikeSqlite(path: string): boolean {
  try {
    const fd = openSync(path, "r");
    try {
      const head = Buffer.alloc(16);
      const read = readSync(fd, head, 0, 16, 0);
      return read === 0 || head.toString("latin1", 0, read) === SQLITE_HEADER.slice(0, read);
    } finally {
      closeSync(fd);
    }
  } catch {
    return true;
  }
}

/** A finished request as a ledger row: its tokens in five buckets, its cost and its list cost. */
export function rowOf(event: RequestEvent, priceOf: LedgerOptions["priceOf"]): UsageRow {
  const served = event.served;
  const usage = served ? event.usage : null;
  const buckets = usage ? bucketsOf(usage) : undefined;
  const price = served && buckets ? priceOf(served.provider, served.upstreamModel) : undefined;
  const list = buckets && price ? costOf(buckets, price) : null;
  // A plan's or a local model's tokens cost nothing more; what they would have cost is saved.
  const cost = !buckets ? null : served!.kind === "api" ? list : 0;
  return {
    request_id: event.requestId,
    at: event.at,
    protocol: event.protocol,
    requested_model: event.requestedModel.slice(0, 200),
    source: served?.provider ?? null,
    source_kind: served?.kind ?? null,
    account: served?.account ?? null,
    upstream_model: served?.upstreamModel.slice(0, 200) ?? null,
    plan_window: served?.window ?? null,
    stream: event.stream ? 1 : 0,
    status: event.status,
    attempts: event.attempts,
    ttft_ms: event.ttftMs ?? null,
    duration_ms: event.durationMs,
    overhead_ms: event.overheadMs ?? null,
    input_tokens: buckets?.input ?? null,
    cache_read_tokens: buckets?.cacheRead ?? null,
    cache_write_tokens: buckets?.cacheWrite ?? null,
    output_tokens: buckets?.output ?? null,
    reasoning_tokens: buckets?.reasoning ?? null,
    usage_origin: buckets ? "reported" : "missing",
    cost_usd: cost,
    list_cost_usd: list,
  };
}
