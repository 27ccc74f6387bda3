// The usage ledger's SQLite file (bun:sqlite, built into Bun, so still one executable): the
// schema with its migrations, batched inserts, retention, and the queries behind `bitrouter
// usage` and GET /bitrouter/usage. Opening never runs an integrity check or VACUUM (both block
// for seconds on a big file) and keeps the memory map bounded.
import { Database } from "bun:sqlite";

/** One row per request (SPEC §17). Never a prompt or a completion. */
export interface UsageRow {
  request_id: string;
  /** ms since the epoch. */
  at: number;
  protocol: string;
  requested_model: string;
  source: string | null;
  source_kind: string | null;
  account: string | null;
  upstream_model: string | null;
  /** A plan's binding window when it answered (`5h@<reset>`), else null. */
  plan_window: string | null;
  stream: number;
  status: number;
  attempts: number;
  ttft_ms: number | null;
  duration_ms: number;
  overhead_ms: number | null;
  input_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  /** reported (by the source) | estimated | missing (the source reported none: no zeros are made up). */
  usage_origin: "reported" | "estimated" | "missing";
  /** What it cost: 0 on a plan or a local model; null when the model has no price. */
  cost_usd: number | null;
  /** What the same tokens cost at the model's pay-per-token price; null when unpriced. */
  list_cost_usd: number | null;
}

export const COLUMNS = [
  "request_id",
  "at",
  "protocol",
  "requested_model",
  "source",
  "source_kind",
  "account",
  "upstream_model",
  "plan_window",
  "stream",
  "status",
  "attempts",
  "ttft_ms",
  "duration_ms",
  "overhead_ms",
  "input_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "output_tokens",
  "reasoning_tokens",
  "usage_origin",
  "cost_usd",
  "list_cost_usd",
] as const satisfies readonly (keyof UsageRow)[];

/** Each entry moves the schema one version up; `PRAGMA user_version` says where a file is. */
const MIGRATIONS = [
  `CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    protocol TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    source TEXT,
    source_kind TEXT,
    account TEXT,
    upstream_model TEXT,
    plan_window TEXT,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    ttft_ms REAL,
    duration_ms REAL NOT NULL,
    overhead_ms REAL,
    input_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    output_tokens INTEGER,
    reasoning_tokens INTEGER,
    usage_origin TEXT NOT NULL,
    cost_usd REAL,
    list_cost_usd REAL
  );
  CREATE INDEX requests_at ON requests (at);`,
  // The index on time cost 40 % of every insert (0.9 µs a row, measured). Rows arrive in time
  // order, so retention finds the old ones at the start of the table, and the usage queries,
  // which scan anyway, run in a child process, not the server.
  "DROP INDEX IF EXISTS requests_at;",
];

export class LedgerSchemaError extends Error {}

export interface UsageStore {
  readonly path: string;
  insert(rows: UsageRow[]): void;
  /** Deletes up to `limit` rows older than `before` (ms); returns how many went. */
  prune(before: number, limit: number): number;
  summarize(query: UsageQuery): UsageSummary;
  close(): void;
}

export function openUsageStore(path: string, options: { readonly?: boolean } = {}): UsageStore {
  const db = new Database(path, options.readonly ? { readonly: true } : { create: true, readwrite: true, strict: true });
  db.exec("PRAGMA busy_timeout = 1000");
  if (!options.readonly) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    // Bounded: a big ledger must not map gigabytes into the server's memory.
    db.exec("PRAGMA mmap_size = 67108864");
    migrate(db);
  } else {
    const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version > MIGRATIONS.length) throw new LedgerSchemaError(`${path} was written by a newer BitRouter (schema ${version}); upgrade to read it`);
  }
  const insert = options.readonly ? undefined : db.prepare(`INSERT INTO requests (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map((c) => `$${c}`).join(", ")})`);
  const insertMany = options.readonly ? undefined : db.transaction((rows: UsageRow[]) => {
    for (const row of rows) insert!.run(row as unknown as Record<string, string | number | null>);
  });
  // Rows are in time order: the first recent row marks where the old ones end (the walk stops
  // there), and deleting below it by id uses the primary key, never a scan of the table.
  const firstRecent = options.readonly ? undefined : db.prepare("SELECT id FROM requests WHERE at >= ? ORDER BY id LIMIT 1");
  const lastId = options.readonly ? undefined : db.prepare("SELECT MAX(id) AS id FROM requests");
  const prune = options.readonly ? undefined : db.prepare("DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE id < ? ORDER BY id LIMIT ?)");
  return {
    path,
    insert(rows) {
      if (!insertMany) throw new Error("the ledger was opened read-only");
      insertMany(rows);
    },
    prune(before, limit) {
      if (!prune || !firstRecent || !lastId) return 0;
      const boundary = (firstRecent.get(before) as { id: number } | null)?.id ?? ((lastId.get() as { id: number | null }).id ?? 0) + 1;
      return prune.run(boundary, limit).changes;
    },
    summarize: (query) => summarize(db, query),
    close: () => db.close(),
  };
}

function migrate(db: Database): void {
  const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version === 0 && db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get()) {
    throw new LedgerSchemaError(`${db.filename} is a SQLite file of something else, not a BitRouter usage ledger; move it away`);
  }
  if (version > MIGRATIONS.length) throw new LedgerSchemaError(`the ledger was written by a newer BitRouter (schema ${version}, this one knows ${MIGRATIONS.length}); upgrade, or move the file away`);
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    })();
  }
}

export const GROUPINGS = ["day", "model", "source", "account", "window"] as const;
export type Grouping = (typeof GROUPINGS)[number];

export interface UsageQuery {
  /** ms since the epoch, inclusive. */
  since: number;
  /** ms since the epoch, exclusive. */
  until: number;
  by: Grouping;
  /** Minutes east of UTC for `by: day` (the caller's local day). */
  utcOffsetMinutes: number;
}

export interface UsageTotals {
  requests: number;
  /** Answers with an error status (a client that went away, 499, is not one). */
  errors: number;
  /** Requests that needed more than one attempt (a retry or a failover). */
  failovers: number;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  /** Cache reads over all input tokens (0–1); null with no input. */
  cache_hit_ratio: number | null;
  cost_usd: number;
  list_cost_usd: number;
  /** What plans and local models saved: their tokens at pay-per-token prices. */
  saved_usd: number;
  /** Requests whose model has no price (their tokens count, their cost does not). */
  unpriced_requests: number;
  /** Answers (status 200) whose source reported no usage. */
  usage_missing_requests: number;
}

export interface UsageSummary {
  since: string;
  until: string;
  by: Grouping;
  /** The offset the days are counted in (minutes east of UTC). */
  utc_offset_minutes: number;
  groups: ({ key: string } & UsageTotals)[];
  total: UsageTotals;
  /** Models that were used but have no price, so a user can add one. */
  unpriced_models: string[];
}

const AGGREGATES = `
  COUNT(*) AS requests,
  SUM(status >= 400 AND status != 499) AS errors,
  SUM(attempts > 1) AS failovers,
  COALESCE(SUM(input_tokens), 0) AS input_tokens,
  COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
  COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
  COALESCE(SUM(output_tokens), 0) AS output_tokens,
  COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens,
  COALESCE(SUM(cost_usd), 0) AS cost_usd,
  COALESCE(SUM(list_cost_usd), 0) AS list_cost_usd,
  COALESCE(SUM(CASE WHEN source_kind != 'api' THEN list_cost_usd - COALESCE(cost_usd, 0) END), 0) AS saved_usd,
  SUM(usage_origin != 'missing' AND list_cost_usd IS NULL) AS unpriced_requests,
  SUM(usage_origin = 'missing' AND status = 200) AS usage_missing_requests`;

function groupKey(by: Grouping, offsetMinutes: number): string {
  switch (by) {
    case "day":
      return `strftime('%Y-%m-%d', (at / 1000) + ${Math.round(offsetMinutes) * 60}, 'unixepoch')`;
    case "model":
      return "COALESCE(upstream_model, requested_model)";
    case "source":
      return "COALESCE(source, '(none)')";
    case "account":
      return "COALESCE(source || ' (' || account || ')', '(none)')";
    case "window":
      return "CASE WHEN plan_window IS NULL THEN '(not a plan)' ELSE source || ' (' || account || ') ' || plan_window END";
  }
}

function summarize(db: Database, query: UsageQuery): UsageSummary {
  const where = "WHERE at >= ? AND at < ?";
  const key = groupKey(query.by, query.utcOffsetMinutes);
  const groups = db.query(`SELECT ${key} AS key, ${AGGREGATES} FROM requests ${where} GROUP BY key ORDER BY key`).all(query.since, query.until) as ({ key: string } & UsageTotals)[];
  const total = (db.query(`SELECT ${AGGREGATES} FROM requests ${where}`).get(query.since, query.until) ?? {}) as UsageTotals;
  const unpriced = db
    .query(`SELECT DISTINCT COALESCE(upstream_model, requested_model) AS model FROM requests ${where} AND usage_origin != 'missing' AND list_cost_usd IS NULL ORDER BY model`)
    .all(query.since, query.until) as { model: string }[];
  return {
    since: new Date(query.since).toISOString(),
    until: new Date(query.until).toISOString(),
    by: query.by,
    utc_offset_minutes: query.utcOffsetMinutes,
    groups: groups.map(finish),
    total: finish({ ...total, requests: total.requests ?? 0 }),
    unpriced_models: unpriced.map((u) => u.model),
  };
}

/** Counts as integers, money rounded to a micro-dollar, and the cache-hit ratio. */
function finish<T extends UsageTotals>(row: T): T {
  const n = (v: unknown) => Number(v ?? 0);
  const input = n(row.input_tokens) + n(row.cache_read_tokens) + n(row.cache_write_tokens);
  const usd = (v: unknown) => Math.round(n(v) * 1e6) / 1e6;
  return {
    ...row,
    requests: n(row.requests),
    errors: n(row.errors),
    failovers: n(row.failovers),
    input_tokens: n(row.input_tokens),
    cache_read_tokens: n(row.cache_read_tokens),
    cache_write_tokens: n(row.cache_write_tokens),
    output_tokens: n(row.output_tokens),
    reasoning_tokens: n(row.reasoning_tokens),
    cache_hit_ratio: input > 0 ? n(row.cache_read_tokens) / input : null,
    cost_usd: usd(row.cost_usd),
    list_cost_usd: usd(row.list_cost_usd),
    saved_usd: usd(row.saved_usd),
    unpriced_requests: n(row.unpriced_requests),
    usage_missing_requests: n(row.usage_missing_requests),
  };
}
