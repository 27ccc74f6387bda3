// Where the tokens went (issue #11; SPEC §17), end to end: every client × source protocol,
// streaming and not, lands in the ledger with the five buckets the fake source reported and a
// cost from the price table; a plan's row costs 0 and says what it saved; a source that reports
// no usage is `missing`, not zeros; `bitrouter usage` and /bitrouter/usage total it; /metrics
// parses with a real Prometheus text parser and keeps its series bounded; a ledger file removed
// mid-run costs one warning and no request.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import { type RunningBitRouter, runBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let chatsrc: FakeUpstream;
let msgsrc: FakeUpstream;
let respsrc: FakeUpstream;
let nousage: FakeUpstream;
let claudeApi: FakeUpstream;
let bitrouter: RunningBitRouter;
let home: string;

beforeAll(async () => {
  [chatsrc, msgsrc, respsrc, nousage, claudeApi] = (await Promise.all(["chatsrc", "msgsrc", "respsrc", "nousage", "claude-plan"].map((n) => startFakeUpstream(n)))) as [FakeUpstream, FakeUpstream, FakeUpstream, FakeUpstream, FakeUpstream];
  for (const fake of [chatsrc, msgsrc, respsrc, claudeApi]) {
    fake.usage = { prompt_tokens: 1000, completion_tokens: 200 };
    fake.cacheRead = 600;
    fake.cacheWrite = 100;
    fake.reasoningTokens = 50;
  }
  home = mkdtempSync(join(tmpdir(), "bitrouter-usage-"));
  mkdirSync(join(home, ".bitrouter"), { recursive: true });
  writeFileSync(
    join(home, ".bitrouter", "credentials.json"),
    JSON.stringify({ anthropic: { default: { type: "oauth", access_token: "sk-ant-oat01-x", refresh_token: "r", expires_at: Math.floor(Date.now() / 1000) + 3600 } } }),
    { mode: 0o600 },
  );
  bitrouter = await startBitRouter({
    dir: home,
    env: { BITROUTER_ANTHROPIC_API_BASE: claudeApi.baseUrl },
    config: `
health: false
providers:
  chatsrc:
    api_base: ${chatsrc.baseUrl}
    kind: api
    models: [{ id: gpt-4o }]
  msgsrc:
    api_base: ${msgsrc.baseUrl}
    kind: api
    api_key: sk-ant-source
    api_protocol: messages
    models: [{ id: gpt-4o }]
  respsrc:
    api_base: ${respsrc.baseUrl}
    kind: api
    api_key: sk-resp
    api_protocol: responses
    models: [{ id: gpt-4o }]
  nousage:
    api_base: ${nousage.baseUrl}
    kind: api
    models:
      - id: my-model
        compatibility: { chat_completions: { supports_stream_options: false } }
        pricing: { input_micro_usd_per_token: 1, output_micro_usd_per_token: 2 }
`,
  });
});
afterAll(async () => {
  await bitrouter.stop();
  for (const f of [chatsrc, msgsrc, respsrc, nousage, claudeApi]) f.stop();
});

type Client = "chat" | "messages" | "responses";
const CLIENTS: Client[] = ["chat", "messages", "responses"];
const SOURCES = ["chatsrc", "msgsrc", "respsrc"] as const;

async function ask(client: Client, model: string, stream: boolean): Promise<Response> {
  const path = { chat: "/v1/chat/completions", messages: "/v1/messages", responses: "/v1/responses" }[client];
  const body =
    client === "chat"
      ? { model, stream, messages: [{ role: "user", content: "hi" }] }
      : client === "messages"
        ? { model, stream, max_tokens: 100, messages: [{ role: "user", content: "hi" }] }
        : { model, stream, input: "hi" };
  const response = await fetch(`${bitrouter.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" }, body: JSON.stringify(body) });
  await response.text();
  return response;
}

interface Row {
  request_id: string;
  protocol: string;
  source: string | null;
  source_kind: string | null;
  account: string | null;
  upstream_model: string | null;
  stream: number;
  status: number;
  input_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  usage_origin: string;
  cost_usd: number | null;
  list_cost_usd: number | null;
  ttft_ms: number | null;
  duration_ms: number;
}

function rows(): Row[] {
  const db = new Database(join(home, ".bitrouter", "usage.db"), { readonly: true });
  try {
    return db.query("SELECT * FROM requests ORDER BY id").all() as Row[];
  } finally {
    db.close();
  }
}

async function settled(count: number): Promise<Row[]> {
  for (let i = 0; i < 50; i++) {
    if (existsSync(join(home, ".bitrouter", "usage.db"))) {
      const found = rows();
      if (found.length >= count) return found;
    }
    await Bun.sleep(50);
  }
  return rows();
}

/** What each source protocol reports for 1000 input (600 cached, 100 written) and 200 output (50 reasoning). */
const BUCKETS: Record<(typeof SOURCES)[number], Pick<Row, "input_tokens" | "cache_read_tokens" | "cache_write_tokens" | "output_tokens" | "reasoning_tokens">> = {
  chatsrc: { input_tokens: 300, cache_read_tokens: 600, cache_write_tokens: 100, output_tokens: 200, reasoning_tokens: 50 },
  // Messages reports no reasoning count.
  msgsrc: { input_tokens: 300, cache_read_tokens: 600, cache_write_tokens: 100, output_tokens: 200, reasoning_tokens: 0 },
  // Responses reports no cache writes.
  respsrc: { input_tokens: 400, cache_read_tokens: 600, cache_write_tokens: 0, output_tokens: 200, reasoning_tokens: 50 },
};

/** gpt-4o's list price: $2.50 input (and cache writes), $1.25 cached, $10 output per million. */
const gpt4o = (b: (typeof BUCKETS)["chatsrc"]) => ((b.input_tokens! + b.cache_write_tokens!) * 2.5 + b.cache_read_tokens! * 1.25 + b.output_tokens! * 10) / 1e6;

describe("the ledger", () => {
  test("a row per request for every client × source protocol, streaming and not, with the source's buckets and the table's cost", async () => {
    for (const client of CLIENTS) {
      for (const source of SOURCES) {
        for (const stream of [false, true]) expect((await ask(client, `${source}:gpt-4o`, stream)).status).toBe(200);
      }
    }
    const found = await settled(18);
    expect(found).toHaveLength(18);
    let i = 0;
    for (const client of CLIENTS) {
      for (const source of SOURCES) {
        for (const stream of [false, true]) {
          const row = found[i++]!;
          const where = `${client} → ${source}, ${stream ? "stream" : "json"}`;
          expect({ where, ...row }).toMatchObject({ where, protocol: { chat: "chat_completions", messages: "messages", responses: "responses" }[client], source, source_kind: "api", account: "default", upstream_model: "gpt-4o", stream: stream ? 1 : 0, status: 200, usage_origin: "reported", ...BUCKETS[source] });
          expect(row.cost_usd).toBeCloseTo(gpt4o(BUCKETS[source]), 12);
          expect(row.list_cost_usd).toBeCloseTo(row.cost_usd!, 12);
          expect(row.ttft_ms).toBeGreaterThan(0);
          expect(row.duration_ms).toBeGreaterThanOrEqual(row.ttft_ms!);
        }
      }
    }
  });

  test("a plan's row costs 0 and carries what it saved; a source that reports no usage is missing, not zeros; a failure has a row too", async () => {
    const before = rows().length;
    expect((await ask("messages", "anthropic:claude-sonnet-4-5", true)).status).toBe(200);
    expect((await ask("chat", "nousage:my-model", true)).status).toBe(200);
    expect((await ask("chat", "nousage:my-model", false)).status).toBe(200);
    nousage.queue.push("status:400");
    expect((await ask("chat", "nousage:my-model", false)).status).toBe(400);
    expect((await ask("responses", "no-such-model", false)).status).toBe(404);
    const found = (await settled(before + 5)).slice(before);
    const plan = found[0]!;
    expect(plan).toMatchObject({ source: "anthropic", source_kind: "subscription", cost_usd: 0, input_tokens: 300, cache_read_tokens: 600, cache_write_tokens: 100, output_tokens: 200 });
    // claude-sonnet-4-5: $3 in, $0.30 cached, $3.75 written, $15 out per million.
    expect(plan.list_cost_usd).toBeCloseTo((300 * 3 + 600 * 0.3 + 100 * 3.75 + 200 * 15) / 1e6, 12);
    expect(found[1]).toMatchObject({ source: "nousage", usage_origin: "missing", input_tokens: null, output_tokens: null, cost_usd: null, list_cost_usd: null });
    // The same model answering JSON reports usage, priced from its config `pricing:`.
    expect(found[2]).toMatchObject({ usage_origin: "reported", input_tokens: 11, output_tokens: 7 });
    expect(found[2]!.cost_usd).toBeCloseTo((11 * 1 + 7 * 2) / 1e6, 12);
    expect(found[3]).toMatchObject({ status: 400, attempts: 1, source: null, usage_origin: "missing" });
    // Refused before any source: a row all the same, with no source.
    expect(found[4]).toMatchObject({ status: 404, protocol: "responses", source: null, usage_origin: "missing", input_tokens: null });
  });

  test("bitrouter usage and GET /bitrouter/usage total the rows; a bad query names its parameter", async () => {
    const all = await settled(23);
    const cli = await runBitRouter(["usage", "--json", "--by", "source", "--since", "1h"], { cwd: home });
    expect(cli.code).toBe(0);
    const summary = JSON.parse(cli.stdout) as { groups: { key: string; requests: number; input_tokens: number; cost_usd: number; saved_usd: number; usage_missing_requests: number }[]; total: { requests: number; saved_usd: number } };
    for (const group of summary.groups) {
      const mine = all.filter((r) => (r.source ?? "(none)") === group.key);
      expect(group.requests).toBe(mine.length);
      expect(group.input_tokens).toBe(mine.reduce((t, r) => t + (r.input_tokens ?? 0), 0));
      expect(group.cost_usd).toBeCloseTo(mine.reduce((t, r) => t + (r.cost_usd ?? 0), 0), 5);
    }
    expect(summary.total.requests).toBe(all.length);
    expect(summary.total.saved_usd).toBeCloseTo(all.filter((r) => r.source_kind === "subscription").reduce((t, r) => t + r.list_cost_usd!, 0), 5);
    expect(summary.groups.find((g) => g.key === "nousage")?.usage_missing_requests).toBe(1);

    const text = await runBitRouter(["usage", "--by", "model"], { cwd: home });
    expect(text.stdout).toMatch(/^model +requests +input +cache read +cache write +output +reasoning +cost +saved +cache hit +retried +errors$/m);
    expect(text.stdout).toMatch(/^gpt-4o +18 /m);
    expect(text.stdout).toMatch(/^total +23 /m);

    const http = (await (await fetch(`${bitrouter.url}/bitrouter/usage?by=account&since=1h`)).json()) as { total: { requests: number } };
    expect(http.total.requests).toBe(all.length);
    // West of UTC: the offset reaches the summary's child process as one word.
    const west = await fetch(`${bitrouter.url}/bitrouter/usage?by=day&since=1h&utc_offset_minutes=-300`);
    expect(west.status).toBe(200);
    expect(((await west.json()) as { total: { requests: number } }).total.requests).toBe(all.length);
    expect((await runBitRouter(["usage", "--json", "--since", "1h", "--utc-offset-minutes=-300"], { cwd: home })).code).toBe(0);
    const bad = await fetch(`${bitrouter.url}/bitrouter/usage?by=week`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string; param: string } }).error).toMatchObject({ param: "by", message: expect.stringContaining("by: must be one of day, model, source, account, window") });
    const badSince = await fetch(`${bitrouter.url}/bitrouter/usage?since=yesterday`);
    expect(((await badSince.json()) as { error: { message: string } }).error.message).toContain("since 'yesterday' is not a time");
    expect((await runBitRouter(["usage", "--by", "week"], { cwd: home })).code).toBe(2);
  });
});

describe("GET /metrics", () => {
  interface Family {
    name: string;
    type: string;
    metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[];
  }
  const scrape = async () => parsePrometheus(await (await fetch(`${bitrouter.url}/metrics`)).text()) as Family[];
  const series = (families: Family[]) => families.reduce((n, f) => n + f.metrics.length, 0);

  test("parses as Prometheus text: requests, tokens by bucket, latency and overhead histograms, open streams", async () => {
    const families = await scrape();
    const family = (name: string) => families.find((f) => f.name === name)!;
    const requests = family("bitrouter_requests_total").metrics;
    expect(requests.find((m) => m.labels?.source === "chatsrc" && m.labels?.protocol === "chat_completions")?.value).toBe("2");
    const tokens = family("bitrouter_tokens_total").metrics;
    const bucket = (source: string, name: string) => tokens.find((m) => m.labels?.source === source && m.labels?.model === "gpt-4o" && m.labels?.bucket === name)?.value;
    // 6 requests per source (3 clients × stream and not).
    expect(bucket("chatsrc", "cache_read")).toBe(String(6 * 600));
    expect(bucket("msgsrc", "cache_write")).toBe(String(6 * 100));
    expect(bucket("respsrc", "input")).toBe(String(6 * 400));
    expect(family("bitrouter_overhead_seconds").type).toBe("HISTOGRAM");
    // Every answered request (the one refused with a 400 never had a first byte).
    expect(Number(family("bitrouter_overhead_seconds").metrics[0]!.count)).toBe(21);
    expect(family("bitrouter_time_to_first_byte_seconds").type).toBe("HISTOGRAM");
    expect(family("bitrouter_open_streams").metrics[0]!.value).toBe("0");
    expect(family("bitrouter_usage_missing_total").metrics[0]).toMatchObject({ labels: { source: "nousage" }, value: "1" });
  });

  test("1,000 requests for 1,000 model names nobody declared add no series", async () => {
    await ask("chat", "chatsrc:warm-up-name", false);
    await fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "never-heard-of-it", messages: [{ role: "user", content: "hi" }] }) });
    const before = series(await scrape());
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          // Half pinned to a source that passes any id through, half bare names that resolve to nothing.
          return n % 2 === 0 ? ask("chat", `chatsrc:made-up-${n}`, false) : fetch(`${bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: `made-up-${n}`, messages: [{ role: "user", content: "hi" }] }) }).then((r) => r.text());
        }),
      );
    }
    const after = await scrape();
    expect(series(after)).toBe(before);
    const tokens = after.find((f) => f.name === "bitrouter_tokens_total")!.metrics;
    expect(tokens.some((m) => m.labels?.model?.startsWith("made-up"))).toBe(false);
  });
});

describe("a ledger file that goes away", () => {
  test("removed mid-run: requests still succeed, one warning, a new file takes the next rows", async () => {
    await Bun.sleep(400);
    for (const suffix of ["", "-wal", "-shm"]) rmSync(join(home, ".bitrouter", `usage.db${suffix}`), { force: true });
    for (let i = 0; i < 3; i++) {
      expect((await ask("chat", "chatsrc:gpt-4o", false)).status).toBe(200);
      await Bun.sleep(350);
    }
    const found = await settled(3);
    expect(found.length).toBeGreaterThanOrEqual(2);
    expect(bitrouter.stderr().match(/usage ledger cannot write/g)).toHaveLength(1);
    expect(bitrouter.stderr()).toContain("was removed; a new ledger file is started");
  });
});
