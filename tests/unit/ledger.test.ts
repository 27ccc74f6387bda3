// The usage ledger without a server: prices, buckets, rows, the SQLite store and its queries
// (totals checked against sums computed here), the batched writer and its failures.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLedger, rowOf } from "../../src/ledger/ledger.ts";
import { bucketsOf, costOf, priceFor, PRICES } from "../../src/ledger/prices.ts";
import { parseWhen, toUsageQuery } from "../../src/ledger/query.ts";
import { openUsageStore, type UsageRow, type UsageStore } from "../../src/ledger/store.ts";
import type { Logger } from "../../src/log.ts";
import type { RequestEvent } from "../../src/request-event.ts";

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

function event(over: Partial<RequestEvent> = {}, served: Partial<NonNullable<RequestEvent["served"]>> | null = {}): RequestEvent {
  return {
    requestId: "r1",
    at: T0,
    protocol: "messages",
    requestedModel: "smart",
    stream: true,
    status: 200,
    attempts: 1,
    failed: [],
    served: served === null ? undefined : { provider: "openai", kind: "api", account: "default", upstreamModel: "gpt-4o", declared: true, ...served },
    ttftMs: 120,
    durationMs: 900,
    overheadMs: 0.2,
    usage: { inputTokens: 1000, outputTokens: 200, cacheReadTokens: 600, cacheWriteTokens: 100, reasoningTokens: 50 },
    ...over,
  };
}

const priceOf = (_provider: string, model: string) => priceFor(model);

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (message: string, fields?: object) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: add("debug"), info: add("info"), warn: add("warn"), error: add("error") };
}

describe("prices and buckets", () => {
  test("a model is found by its id, its vendor-prefixed, dotted or dated spelling; a config price wins; unknown is unpriced", () => {
    expect(priceFor("claude-sonnet-4-5")).toBe(PRICES["claude-sonnet-4-5"]!);
    expect(priceFor("anthropic/claude-sonnet-4.5")).toBe(PRICES["claude-sonnet-4-5"]!);
    expect(priceFor("claude-sonnet-4-5-20250929")).toBe(PRICES["claude-sonnet-4-5"]!);
    expect(priceFor("openai/gpt-4.1")).toBe(PRICES["gpt-4-1"]!);
    expect(priceFor("llama3.1")).toBeUndefined();
    expect(priceFor("llama3.1", { input: 0.1, output: 0.2 })).toEqual({ input: 0.1, output: 0.2 });
  });

  test("input is split into uncached, cache read and cache write; output includes reasoning; cost per bucket", () => {
    const b = bucketsOf({ inputTokens: 1000, outputTokens: 200, cacheReadTokens: 600, cacheWriteTokens: 100, reasoningTokens: 50 });
    expect(b).toEqual({ input: 300, cacheRead: 600, cacheWrite: 100, output: 200, reasoning: 50 });
    // gpt-4o: $2.50 in, $1.25 cached, $10 out per million; no cache-write price → the input price.
    expect(costOf(b, PRICES["gpt-4o"]!)).toBeCloseTo((300 * 2.5 + 600 * 1.25 + 100 * 2.5 + 200 * 10) / 1e6, 12);
  });
});

describe("a request as a row", () => {
  test("an API source: cost = list cost; a plan or a local model: cost 0, list cost = what it saved; no usage: missing, never zeros", () => {
    const api = rowOf(event(), priceOf);
    const expected = (300 * 2.5 + 600 * 1.25 + 100 * 2.5 + 200 * 10) / 1e6;
    expect(api).toMatchObject({ source: "openai", input_tokens: 300, cache_read_tokens: 600, cache_write_tokens: 100, output_tokens: 200, reasoning_tokens: 50, usage_origin: "reported" });
    expect(api.cost_usd).toBeCloseTo(expected, 12);
    expect(api.list_cost_usd).toBeCloseTo(expected, 12);
    const plan = rowOf(event({}, { provider: "anthropic", kind: "subscription", upstreamModel: "claude-sonnet-4-5", window: "5h@x" }), priceOf);
    expect(plan.cost_usd).toBe(0);
    expect(plan.list_cost_usd).toBeCloseTo((300 * 3 + 600 * 0.3 + 100 * 3.75 + 200 * 15) / 1e6, 12);
    expect(plan.plan_window).toBe("5h@x");
    const local = rowOf(event({}, { provider: "ollama", kind: "self-hosted", upstreamModel: "llama3.1" }), priceOf);
    expect(local).toMatchObject({ cost_usd: 0, list_cost_usd: null });
    const missing = rowOf(event({ usage: null }), priceOf);
    expect(missing).toMatchObject({ usage_origin: "missing", input_tokens: null, output_tokens: null, cost_usd: null, list_cost_usd: null });
    const failed = rowOf(event({ status: 502, attempts: 2 }, null), priceOf);
    expect(failed).toMatchObject({ source: null, status: 502, usage_origin: "missing" });
  });
});

/** Requests in a ledger file, read as `bitrouter usage` reads it. */
function rowsIn(path: string): number {
  const store = openUsageStore(path, { readonly: true });
  try {
    return store.summarize({ since: 0, until: T0 + 1, by: "day", utcOffsetMinutes: 0 }).total.requests;
  } finally {
    store.close();
  }
}

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), "bitrouter-ledger-")), "usage.db");
}

describe("the store", () => {
  test("a new file gets the schema (user_version 2), WAL, and survives reopening", () => {
    const path = tempDb();
    openUsageStore(path).close();
    const store = openUsageStore(path);
    store.close();
    const db = new Database(path, { readonly: true });
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    db.close();
  });

  test("a version-1 file is migrated in place: its rows stay, the time index goes", () => {
    const path = tempDb();
    const v1 = openUsageStore(path);
    v1.insert([rowOf(event(), priceOf)]);
    v1.close();
    const db = new Database(path);
    db.exec("CREATE INDEX requests_at ON requests (at); PRAGMA user_version = 1;");
    db.close();
    const store = openUsageStore(path);
    expect(store.summarize({ since: 0, until: T0 + 1, by: "day", utcOffsetMinutes: 0 }).total.requests).toBe(1);
    store.close();
    const check = new Database(path, { readonly: true });
    expect(check.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'requests_at'").all()).toEqual([]);
    expect((check.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    check.close();
  });

  test("a file from a newer BitRouter is refused by name, not damaged", () => {
    const path = tempDb();
    const db = new Database(path, { create: true });
    db.exec("PRAGMA user_version = 99");
    db.close();
    expect(() => openUsageStore(path)).toThrow(/newer BitRouter \(schema 99/);
  });

  test("totals by day, source and account equal sums computed from the rows; retention deletes only old rows", () => {
    const path = tempDb();
    const store = openUsageStore(path);
    const rows: UsageRow[] = [];
    const sources = [
      { source: "anthropic", kind: "subscription", account: "work", model: "claude-sonnet-4-5" },
      { source: "anthropic", kind: "subscription", account: "home", model: "claude-sonnet-4-5" },
      { source: "openrouter", kind: "api", account: "default", model: "openai/gpt-4o" },
      { source: "ollama", kind: "self-hosted", account: "default", model: "llama3.1" },
    ];
    // Oldest first, as a ledger fills.
    for (let day = 4; day >= 0; day--) {
      for (let i = 0; i < 12; i++) {
        const s = sources[(day + i) % sources.length]!;
        const served = rowOf(
          event({ requestId: `r${day}-${i}`, at: T0 - day * 86_400_000 + i * 60_000, attempts: 1 + (i % 3 === 0 ? 1 : 0), usage: i % 7 === 6 ? null : { inputTokens: 100 * (i + 1), outputTokens: 10 * i, cacheReadTokens: 50 * i, reasoningTokens: i } }, { provider: s.source, kind: s.kind as "api", account: s.account, upstreamModel: s.model }),
          priceOf,
        );
        rows.push(i === 11 ? { ...served, status: 502, source: null, source_kind: null, account: null, upstream_model: null, usage_origin: "missing", input_tokens: null, cache_read_tokens: null, cache_write_tokens: null, output_tokens: null, reasoning_tokens: null, cost_usd: null, list_cost_usd: null } : served);
      }
    }
    store.insert(rows);
    const since = T0 - 10 * 86_400_000;
    const until = T0 + 86_400_000;
    const bySource = store.summarize({ since, until, by: "source", utcOffsetMinutes: 0 });
    const sum = (pick: (r: UsageRow) => number | null, keep: (r: UsageRow) => boolean = () => true) => rows.filter(keep).reduce((t, r) => t + (pick(r) ?? 0), 0);
    for (const group of bySource.groups) {
      const mine = (r: UsageRow) => (r.source ?? "(none)") === group.key;
      expect(group.requests).toBe(rows.filter(mine).length);
      expect(group.input_tokens).toBe(sum((r) => r.input_tokens, mine));
      expect(group.cache_read_tokens).toBe(sum((r) => r.cache_read_tokens, mine));
      expect(group.output_tokens).toBe(sum((r) => r.output_tokens, mine));
      expect(group.reasoning_tokens).toBe(sum((r) => r.reasoning_tokens, mine));
      expect(group.cost_usd).toBeCloseTo(sum((r) => r.cost_usd, mine), 5);
      expect(group.failovers).toBe(rows.filter((r) => mine(r) && r.attempts > 1).length);
      expect(group.errors).toBe(rows.filter((r) => mine(r) && r.status >= 400).length);
    }
    const total = bySource.total;
    expect(total.requests).toBe(60);
    expect(total.saved_usd).toBeCloseTo(sum((r) => (r.list_cost_usd ?? 0) - (r.cost_usd ?? 0), (r) => r.source_kind !== null && r.source_kind !== "api"), 5);
    const input = sum((r) => r.input_tokens) + sum((r) => r.cache_read_tokens) + sum((r) => r.cache_write_tokens);
    expect(total.cache_hit_ratio).toBeCloseTo(sum((r) => r.cache_read_tokens) / input, 9);
    expect(total.unpriced_requests).toBe(rows.filter((r) => r.usage_origin === "reported" && r.list_cost_usd === null).length);
    expect(bySource.unpriced_models).toEqual(["llama3.1"]);
    expect(total.usage_missing_requests).toBe(rows.filter((r) => r.usage_origin === "missing" && r.source !== null).length);

    const byDay = store.summarize({ since, until, by: "day", utcOffsetMinutes: 0 });
    expect(byDay.groups.map((g) => [g.key, g.requests])).toEqual([
      ["2026-11-26", 12],
      ["2026-11-27", 12],
      ["2026-11-28", 12],
      ["2026-11-29", 12],
      ["2026-11-30", 12],
    ]);
    const byAccount = store.summarize({ since, until, by: "account", utcOffsetMinutes: 0 });
    expect(byAccount.groups.find((g) => g.key === "anthropic (work)")?.requests).toBe(rows.filter((r) => r.source === "anthropic" && r.account === "work").length);

    expect(store.prune(T0 - 2.5 * 86_400_000, 5000)).toBe(24);
    expect(store.summarize({ since, until, by: "day", utcOffsetMinutes: 0 }).total.requests).toBe(36);
    store.close();
  });
});

describe("the batched writer", () => {
  test("rows are written after the flush interval, not when recorded", async () => {
    const path = tempDb();
    const ledger = createLedger({ path, log: recordingLog(), priceOf, retentionDays: () => 90, flushMs: 30 });
    ledger.record(event());
    const count = () => (existsSync(path) ? rowsIn(path) : 0);
    expect(count()).toBe(0);
    await Bun.sleep(80);
    expect(count()).toBe(1);
    ledger.close();
  });

  test("a store that fails (a full disk): one warning however many batches fail, rows kept and written when it works again", () => {
    const log = recordingLog();
    let failing = true;
    const written: UsageRow[] = [];
    const store: UsageStore = {
      path: "x",
      insert(rows) {
        if (failing) throw new Error("SQLITE_FULL: database or disk is full");
        written.push(...rows);
      },
      prune: () => 0,
      summarize: () => {
        throw new Error("unused");
      },
      close() {},
    };
    const ledger = createLedger({ path: join(mkdtempSync(join(tmpdir(), "bitrouter-ledger-")), "usage.db"), log, priceOf, retentionDays: () => 90, open: () => store });
    for (let i = 0; i < 5; i++) {
      ledger.record(event({ requestId: `r${i}` }));
      expect(() => ledger.flush()).not.toThrow();
    }
    expect(log.lines.filter((l) => l.startsWith("warn"))).toEqual([expect.stringContaining("SQLITE_FULL: database or disk is full")]);
    failing = false;
    ledger.flush();
    expect(written.map((r) => r.request_id)).toEqual(["r0", "r1", "r2", "r3", "r4"]);
    expect(log.lines.at(-1)).toContain("usage ledger writes again");
  });

  test("a file that cannot be opened: a warning, requests unaffected", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-ledger-"));
    const log = recordingLog();
    // The ledger's path is a directory: SQLite cannot open it.
    const ledger = createLedger({ path: dir, log, priceOf, retentionDays: () => 90 });
    ledger.record(event());
    expect(() => ledger.flush()).not.toThrow();
    expect(log.lines.filter((l) => l.startsWith("warn"))).toHaveLength(1);
    rmSync(dir, { recursive: true });
  });
});

describe("the usage query", () => {
  test("spans back from now, local dates, ISO times; mistakes name the parameter", () => {
    expect(parseWhen("7d", T0, 0)).toBe(T0 - 7 * 86_400_000);
    expect(parseWhen("30m", T0, 0)).toBe(T0 - 1_800_000);
    expect(parseWhen("2026-11-01", T0, 60)).toBe(Date.UTC(2026, 10, 1) - 3_600_000);
    expect(parseWhen("2026-11-01T12:00:00Z", T0, 0)).toBe(Date.UTC(2026, 10, 1, 12));
    expect(parseWhen("last week", T0, 0)).toBeUndefined();
    expect(toUsageQuery({}, T0)).toEqual({ ok: true, query: { since: T0 - 7 * 86_400_000, until: T0 + 1, by: "day", utcOffsetMinutes: 0 } });
    expect(toUsageQuery({ since: "yesterday" }, T0)).toMatchObject({ ok: false, param: "since" });
    expect(toUsageQuery({ since: "1d", until: "2d" }, T0)).toMatchObject({ ok: false, param: "until", message: "until is not after since" });
  });
});

describe("what the attack on the ledger found (issue #11)", () => {
  test("retention deletes every expired row, in steps, not 5,000 an hour", async () => {
    const path = tempDb();
    const seed = openUsageStore(path);
    seed.insert(Array.from({ length: 12_000 }, (_, i) => rowOf(event({ requestId: `old${i}`, at: T0 - 100 * 86_400_000 }), priceOf)));
    seed.close();
    const ledger = createLedger({ path, log: recordingLog(), priceOf, retentionDays: () => 90, now: () => T0 });
    ledger.record(event());
    ledger.flush();
    await Bun.sleep(50);
    expect(rowsIn(path)).toBe(1);
    ledger.close();
  });

  test("a file overwritten with junk under a running ledger is moved aside, with one warning, and rows go to a new one", async () => {
    const path = tempDb();
    const log = recordingLog();
    const ledger = createLedger({ path, log, priceOf, retentionDays: () => 90, now: () => T0 });
    ledger.record(event({ requestId: "before" }));
    ledger.flush();
    await Bun.write(path, crypto.getRandomValues(new Uint8Array(4096)));
    ledger.record(event({ requestId: "after" }));
    ledger.flush();
    expect(log.lines.filter((l) => l.startsWith("warn"))).toEqual([expect.stringContaining(`is no longer a SQLite file; it is moved to ${path}.damaged-${T0}`)]);
    expect(rowsIn(path)).toBe(1);
    ledger.close();
  });

  test("usage: false (now, or after a reload) records nothing", () => {
    let enabled = false;
    const path = tempDb();
    const ledger = createLedger({ path, log: recordingLog(), priceOf, retentionDays: () => 90, enabled: () => enabled });
    ledger.record(event());
    ledger.flush();
    enabled = true;
    ledger.record(event({ requestId: "on" }));
    ledger.flush();
    expect(rowsIn(path)).toBe(1);
    ledger.close();
  });

  test("a SQLite file of something else is refused by name, not written into", () => {
    const path = tempDb();
    const other = new Database(path, { create: true });
    other.exec("CREATE TABLE requests (x)");
    other.close();
    expect(() => openUsageStore(path)).toThrow(/is a SQLite file of something else, not a BitRouter usage ledger/);
  });

  test("times that cannot be: a huge span, 30 February, the future", () => {
    expect(toUsageQuery({ since: "99999999999d" }, T0)).toMatchObject({ ok: false, param: "since" });
    expect(toUsageQuery({ since: "2026-02-30" }, T0)).toMatchObject({ ok: false, param: "since" });
    expect(toUsageQuery({ since: "2099-01-01" }, T0)).toMatchObject({ ok: false, param: "since", message: expect.stringContaining("since is in the future") });
  });
});
