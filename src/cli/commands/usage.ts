// `bitrouter usage`: where the tokens went, from the ledger file ($BITROUTER_HOME/usage.db),
// read directly (a running server keeps writing; SQLite's WAL lets both work at once).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { toUsageQuery } from "../../ledger/query.ts";
import type { UsageQuery } from "../../ledger/store.ts";
import { GROUPINGS, type Grouping, LedgerSchemaError, openUsageStore, type UsageSummary, type UsageTotals } from "../../ledger/store.ts";
import { readUsageStream } from "../../ledger/redis-stream.ts";
import { createLogger } from "../../log.ts";
import { createRedisLink, redactRedisUrl } from "../../state/redis.ts";
import { loadConfig } from "../../config/load.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs, UsageError } from "../args.ts";
import { bitrouterHome, loadOrReport } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io, printable } from "../io.ts";

export const usageHelp = `Usage: bitrouter usage [--since 7d|2026-11-01] [--until …] [--by day|model|source|account|window] [--json]
                       [--utc-offset-minutes N] [--file PATH | --redis [-c CONFIG]]

Where the tokens went, from the usage ledger ($BITROUTER_HOME/usage.db, written by the server):
requests, tokens by bucket (input, cache read, cache write, output, of which reasoning), cost,
money saved (plans and local models priced at pay-per-token rates), cache-hit ratio, requests
that needed a retry or a failover, and errors. --since/--until take a span back from now
(30m, 24h, 7d, 2w) or a date (local midnight) or an ISO time; default: the last 7 days, by day.
--by window groups plan requests by the quota window they fell in. Days and dates are this
machine's local ones unless --utc-offset-minutes says otherwise (a negative one as
--utc-offset-minutes=-300); --file reads another ledger. --redis reads the whole fleet's rows from
the Redis stream the instances append to (state.redis and state.prefix in the config).
`;

export async function usageCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    ...JSON_OPTION,
    ...HELP_OPTION,
    since: { type: "string" },
    until: { type: "string" },
    by: { type: "string" },
    "utc-offset-minutes": { type: "string" },
    file: { type: "string" },
    redis: { type: "boolean" },
    ...CONFIG_OPTION,
  });
  if (values.help) {
    io.stdout(usageHelp);
    return EXIT_OK;
  }
  if (values.by !== undefined && !(GROUPINGS as readonly string[]).includes(values.by)) throw new UsageError(`--by must be one of ${GROUPINGS.join(", ")}`);
  const offsetText = values["utc-offset-minutes"];
  if (offsetText !== undefined && !/^[+-]?\d{1,3}$/.test(offsetText)) throw new UsageError("--utc-offset-minutes must be whole minutes east of UTC, e.g. 60 or -300");
  const offset = offsetText === undefined ? -new Date().getTimezoneOffset() : Number(offsetText);
  const parsed = toUsageQuery({ since: values.since, until: values.until, by: values.by as Grouping | undefined }, Date.now(), offset);
  if (!parsed.ok) throw new UsageError(`--${parsed.message}`);
  if (values.redis && values.file !== undefined) throw new UsageError("--redis and --file each name where to read; give one");
  if (values.redis) return fleetUsage(io, values.config, parsed.query, values.json === true);
  const path = values.file ?? join(bitrouterHome(io), "usage.db");
  if (!existsSync(path)) {
    io.stderr(`no usage recorded yet: ${path} does not exist (the server writes it as requests finish)\n`);
    return EXIT_FAILURE;
  }
  let summary: UsageSummary;
  try {
    const store = openUsageStore(path, { readonly: true });
    try {
      summary = store.summarize(parsed.query);
    } finally {
      store.close();
    }
  } catch (err) {
    io.stderr(`error: ${describeOpenError(path, err)}\n`);
    return EXIT_FAILURE;
  }
  if (values.json) {
    io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout(renderSummary(summary, path));
  return EXIT_OK;
}

/** The fleet's usage: the rows in the Redis stream, summarised by the same code as a ledger file. */
async function fleetUsage(io: Io, configFlag: string | undefined, query: UsageQuery, json: boolean): Promise<number> {
  const loaded = await loadOrReport(io, () => loadConfig({ explicit: configFlag, cwd: io.cwd, env: io.env, homeDir: io.homeDir }));
  if (!loaded) return EXIT_FAILURE;
  const url = loaded.config.state?.redis;
  if (!url) {
    io.stderr(`error: --redis needs state.redis in the config (${loaded.path ?? "no config file found"}), e.g.\n  state:\n    redis: redis://127.0.0.1:6379\n`);
    return EXIT_FAILURE;
  }
  const prefix = loaded.config.state?.prefix ?? "bitrouter";
  const where = `${redactRedisUrl(url)} (prefix ${prefix})`;
  const link = createRedisLink({ url, log: createLogger({ level: "error", write: () => {} }), commandTimeoutMs: 10_000 });
  let summary: UsageSummary;
  try {
    await link.ready();
    if (!link.up) {
      io.stderr(`error: cannot reach redis at ${where}: check the host, port and password in state.redis\n`);
      return EXIT_FAILURE;
    }
    const rows = await readUsageStream(link, prefix, query.since);
    // The stream's rows go through an in-memory ledger: one summary code for a file and a fleet.
    const store = openUsageStore(":memory:");
    try {
      store.insert(rows);
      summary = store.summarize(query);
    } finally {
      store.close();
    }
  } catch (err) {
    io.stderr(`error: cannot read the usage stream from ${where}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  } finally {
    link.close();
  }
  if (json) {
    io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout(renderSummary(summary, `redis ${where}`));
  return EXIT_OK;
}

/** Why a ledger file cannot be read, in words a user can act on. */
function describeOpenError(path: string, err: unknown): string {
  const message = (err as Error).message;
  if (err instanceof LedgerSchemaError) return message;
  if (/readonly|read-only|unable to open/i.test(message)) return `cannot read ${path}: ${message} (SQLite's WAL needs write access to the file's folder; run as the server's user)`;
  if (/not a database|malformed|no such table/i.test(message)) return `${path} is not a BitRouter usage ledger (${message}); move it away and the server starts a new one`;
  return `cannot read ${path}: ${message}`;
}

const HEADINGS = ["requests", "input", "cache read", "cache write", "output", "reasoning", "cost", "saved", "cache hit", "retried", "errors"];

/** A readable table: one line per group, then the total, then what could not be priced. */
export function renderSummary(summary: UsageSummary, path: string): string {
  const row = (t: UsageTotals) => [
    String(t.requests),
    count(t.input_tokens),
    count(t.cache_read_tokens),
    count(t.cache_write_tokens),
    count(t.output_tokens),
    count(t.reasoning_tokens),
    usd(t.cost_usd),
    usd(t.saved_usd),
    t.cache_hit_ratio === null ? "-" : `${(t.cache_hit_ratio * 100).toFixed(1)}%`,
    String(t.failovers),
    String(t.errors),
  ];
  const lines = [[summary.by, ...HEADINGS], ...summary.groups.map((g) => [printable(g.key) || "(none)", ...row(g)]), ["total", ...row(summary.total)]];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const format = (l: string[]) => l.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  // The span in the same clock as the days below.
  const offset = summary.utc_offset_minutes ?? 0;
  const shown = (iso: string) => new Date(Date.parse(iso) + offset * 60_000).toISOString().slice(0, 16).replace("T", " ");
  const zone = offset === 0 ? "UTC" : `UTC${offset > 0 ? "+" : "-"}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
  const out = [`usage ${shown(summary.since)} to ${shown(summary.until)} ${zone}, by ${summary.by} (${path})`, ""];
  if (summary.groups.length === 0) out.push("no requests in this span");
  else {
    out.push(format(lines[0]!), ...lines.slice(1, -1).map(format), format(lines.at(-1)!));
  }
  const t = summary.total;
  out.push("");
  out.push("cost: what API sources charged at list prices; saved: what plans and local models would have cost at pay-per-token prices.");
  if (t.unpriced_requests > 0) {
    const models = summary.unpriced_models.map(printable);
    const named = models.length > 10 ? `${models.slice(0, 10).join(", ")} and ${models.length - 10} more` : models.join(", ");
    out.push(`unpriced: ${t.unpriced_requests} request(s) of ${named} (no price known; add pricing: to the model in the config)`);
  }
  if (t.usage_missing_requests > 0) out.push(`usage missing: ${t.usage_missing_requests} answer(s) whose source reported no token counts (not counted as zero)`);
  return `${out.join("\n")}\n`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function usd(n: number): string {
  return n === 0 ? "$0" : n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}
