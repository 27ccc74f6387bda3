// Usage rows of a whole fleet in one place (SPEC §20): each instance keeps its own SQLite ledger
// and also appends every row to a Redis stream, `{prefix}:usage`, one entry per row with the row
// as JSON in the field `row`. `bitrouter usage --redis` reads the stream back. The stream is
// capped (about a million rows, trimmed by Redis as it grows); each instance's SQLite file
// stays the full record.
import type { Logger } from "../log.ts";
import type { RedisLink } from "../state/redis.ts";
import { COLUMNS, type UsageRow } from "./store.ts";

export interface UsageStream {
  /** Queue a row; it is sent in the background, and kept (up to a bound) while Redis is down. */
  append(row: UsageRow): void;
  /** Send what is queued now (resolves when sent, or when Redis failed). */
  flush(): Promise<void>;
}

/** Rows kept while Redis is down; beyond, the oldest are dropped (each instance's SQLite still has them). */
const MAX_BACKLOG = 10_000;
/** Entries the stream keeps, roughly (MAXLEN ~). */
const STREAM_CAP = "1000000";
const FLUSH_MS = 250;
/** After a failed send, the next try waits this long (ms): a broken stream is not hammered. */
const RETRY_MS = 5_000;

export function usageStreamKey(prefix: string): string {
  return `${prefix}:usage`;
}

export function createUsageStream(options: { link: RedisLink; prefix: string; log: Logger }): UsageStream {
  const { link, log } = options;
  const key = usageStreamKey(options.prefix);
  let backlog: UsageRow[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let dropped = 0;
  /** The failure last warned about, so a lasting one is said once. */
  let failing: string | undefined;
  const schedule = (ms: number) => {
    if (timer !== undefined) return;
    timer = setTimeout(() => void flush(), ms);
    timer.unref?.();
  };

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (sending) return sending;
    if (!link.up || backlog.length === 0) return Promise.resolve();
    const batch = backlog;
    backlog = [];
    sending = (async () => {
      // Pipelined on one connection; the rows that failed wait for the next try.
      const results = await Promise.allSettled(batch.map((row) => link.send("XADD", [key, "MAXLEN", "~", STREAM_CAP, "*", "row", JSON.stringify(row)])));
      const failed = batch.filter((_, i) => results[i]!.status === "rejected");
      if (failed.length > 0) {
        backlog = [...failed, ...backlog].slice(-MAX_BACKLOG);
        const reason = ((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason as Error).message;
        if (link.up && reason !== failing) log.warn("usage rows cannot be appended to the redis stream; they wait and are tried again", { stream: key, error: reason });
        failing = reason;
        // Redis down: its return flushes (onUp). Up but refusing (e.g. the key holds another type): try again later.
        if (link.up) schedule(RETRY_MS);
      } else if (failing !== undefined) {
        failing = undefined;
        log.info("usage rows reach the redis stream again", { stream: key });
      }
      if (dropped > 0 && backlog.length === 0) {
        log.warn("usage rows were dropped from the redis stream while redis was down (each instance's ledger has them)", { dropped });
        dropped = 0;
      }
    })().finally(() => {
      sending = undefined;
    });
    return sending;
  };
  link.onUp(() => void flush());

  return {
    append(row) {
      backlog.push(row);
      if (backlog.length > MAX_BACKLOG) {
        dropped += backlog.length - MAX_BACKLOG;
        backlog.splice(0, backlog.length - MAX_BACKLOG);
      }
      schedule(failing === undefined ? FLUSH_MS : RETRY_MS);
    },
    flush,
  };
}

/**
 * One stream entry as a ledger row, or undefined when it is not one (anything can write to a
 * stream): a request id and a time are required, every other column is a string, a number or null.
 */
function asRow(text: string): UsageRow | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const entry = value as Record<string, unknown>;
  if (typeof entry.request_id !== "string" || typeof entry.at !== "number" || !Number.isFinite(entry.at)) return undefined;
  const row: Record<string, string | number | null> = {};
  for (const column of COLUMNS) {
    const field = entry[column];
    row[column] = typeof field === "string" || (typeof field === "number" && Number.isFinite(field)) ? field : null;
  }
  return row as unknown as UsageRow;
}

/**
 * Rows in the stream from `sinceMs` (ms since the epoch) on, oldest first; `maxRows` bounds the
 * read. Entries that are no ledger row are skipped; a row sent twice (a retry after a lost
 * reply) counts once.
 */
export async function readUsageStream(link: RedisLink, prefix: string, sinceMs: number, maxRows = 2_000_000): Promise<UsageRow[]> {
  const key = usageStreamKey(prefix);
  const rows: UsageRow[] = [];
  const seen = new Set<string>();
  let start = `${Math.max(0, Math.floor(sinceMs))}-0`;
  for (;;) {
    const entries = (await link.send("XRANGE", [key, start, "+", "COUNT", "5000"])) as [string, string[]][] | null;
    if (!entries || entries.length === 0) break;
    for (const [, fields] of entries) {
      const at = fields.indexOf("row");
      if (at === -1 || at % 2 !== 0) continue;
      const row = asRow(fields[at + 1]!);
      if (!row) continue;
      const id = `${row.request_id}\u0000${row.at}`;
      if (seen.has(id)) continue;
      seen.add(id);
      rows.push(row);
    }
    if (entries.length < 5000 || rows.length >= maxRows) break;
    start = `(${entries.at(-1)![0]}`;
  }
  return rows;
}
