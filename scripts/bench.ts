// Side-by-side measurements in one run (SPEC §12): the direct path (client → fake source), a
// plain Bun pass-through proxy (the floor for any Bun gateway), and BitRouter, alternating
// order round by round. Prints a table of ratios; never asserts. Writes .bench/last.json.
//
//   bun run bench            (uses dist/bitrouter when built, else the source)
//   bun run bench -- --quick (fewer rounds)
//   bun run bench -- --before <binary>  (an older build measured in the same run, in its own column)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { parseConfigText } from "../src/config/load.ts";
import { orderTargets } from "../src/routing/order.ts";
import { resolveModel } from "../src/routing/resolve.ts";
import { buildRegistry } from "../src/sources/registry.ts";
import { createMetrics } from "../src/metrics/metrics.ts";
import type { RequestEvent } from "../src/request-event.ts";
import { accountKey, createMemoryState, targetKey } from "../src/state/target-state.ts";
import { claudeWindows } from "../src/windows/claude.ts";

// The client itself holds up to 2,000 streams: Bun's fetch cap must be raised before start.
if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  process.execve?.(process.execPath, [process.execPath, ...process.argv.slice(1)], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "16384" });
}

const ROOT = resolve(import.meta.dir, "..");
const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 3 : 6;
const binary = join(ROOT, "dist/bitrouter");
const useBinary = !process.argv.includes("--source") && Bun.file(binary).size > 0;
const bitrouterCmd = useBinary ? [binary] : [process.execPath, join(ROOT, "src/main.ts")];
const env = { ...process.env, NO_PROXY: "127.0.0.1,localhost", BUN_CONFIG_MAX_HTTP_REQUESTS: "16384" };

const beforeAt = process.argv.indexOf("--before");
const beforeBinary = beforeAt === -1 ? undefined : resolve(process.argv[beforeAt + 1] ?? "");
type Target = "direct" | "passthrough" | "bitrouter" | "before";
const TARGETS: Target[] = beforeBinary ? ["direct", "passthrough", "bitrouter", "before"] : ["direct", "passthrough", "bitrouter"];
const perTarget = <T>(make: () => T): Record<Target, T> => Object.fromEntries(TARGETS.map((t) => [t, make()])) as Record<Target, T>;

interface Child {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
}

async function spawnReady(cmd: string[], pattern: RegExp, extraEnv: Record<string, string> = {}): Promise<Child> {
  const proc = Bun.spawn(cmd, { env: { ...env, ...extraEnv }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const decoder = new TextDecoder();
  let out = "";
  const reader = proc.stdout.getReader();
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    out += decoder.decode(value, { stream: true });
    const match = pattern.exec(out);
    if (match) {
      // Keep draining so the child never blocks on a full pipe.
      void (async () => {
        for (;;) if ((await reader.read()).done) break;
      })();
      void new Response(proc.stderr).text();
      return { proc, port: Number(match[1]) };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`${cmd.join(" ")} did not start:\n${out}\n${await new Response(proc.stderr).text()}`);
}

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS = 100;

/** User + system CPU time of a process so far, in clock ticks (from /proc/<pid>/stat). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at state; utime and stime are the 12th and 13th of those.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU ticks per kind of thread: `js` is the main thread (JavaScript, Bun.serve's I/O), `http` is
 * Bun's fetch thread ("HTTP Client"), `other` the rest (JIT compiler, GC helpers, allocator).
 */
function cpuTicksByThread(pid: number): { js: number; http: number; other: number } {
  const out = { js: 0, http: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    if (Number(tid) === pid) out.js += ticks;
    else if (name === "HTTP Client") out.http += ticks;
    else out.other += ticks;
  }
  return out;
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const median = (values: number[]) => percentile(values, 50);
const wallNow = () => performance.timeOrigin + performance.now();
const BODY = JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: "hi" }] });
const streamBody = (marker: string) => JSON.stringify({ model: "bench-model", stream: true, messages: [{ role: "user", content: marker }] });

async function main() {
  // Measured first, while this process's heap is small.
  const bookkeepingUs = routerBookkeepingMicros();
  const metricsUs = metricsMicros();
  const upstream = await spawnReady([process.execPath, join(ROOT, "scripts/bench/upstream.ts"), "0"], /ready (\d+)/);
  const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
  const passthrough = await spawnReady([process.execPath, join(ROOT, "scripts/bench/passthrough.ts"), "0", upstreamOrigin], /ready (\d+)/);
  const dir = mkdtempSync(join(tmpdir(), "bitrouter-bench-"));
  const configPath = join(dir, "bitrouter.yaml");
  writeFileSync(
    configPath,
    `server:\n  keepalive_secs: 60\n  log_level: warn\nproviders:\n  bench:\n    api_base: ${upstreamOrigin}/v1\n    models: [{ id: bench-model }]\n`,
  );
  const coldStarts: number[] = [];
  for (let i = 0; i < 5; i++) coldStarts.push(await coldStart(configPath, dir));
  const readyTimes: number[] = [];
  for (let i = 0; i < 5; i++) readyTimes.push(await zeroConfigReady());
  const bitrouter = await spawnReady([...bitrouterCmd, "serve", "-c", configPath, "--listen", "127.0.0.1:0"], /^ready: http:\/\/127\.0\.0\.1:(\d+)$/m, { HOME: dir });

  const beforeDir = beforeBinary ? mkdtempSync(join(tmpdir(), "bitrouter-bench-before-")) : "";
  const before = beforeBinary ? await spawnReady([beforeBinary, "serve", "-c", configPath, "--listen", "127.0.0.1:0"], /^ready: http:\/\/127\.0\.0\.1:(\d+)$/m, { HOME: beforeDir }) : undefined;
  const base: Record<Target, string> = {
    direct: upstreamOrigin,
    passthrough: `http://127.0.0.1:${passthrough.port}`,
    bitrouter: `http://127.0.0.1:${bitrouter.port}`,
    before: `http://127.0.0.1:${before?.port}`,
  };
  const pids: Record<Target, number> = { direct: upstream.proc.pid, passthrough: passthrough.proc.pid, bitrouter: bitrouter.proc.pid, before: before?.proc.pid ?? 0 };
  const peakRss = perTarget(() => 0);
  const sampler = setInterval(() => {
    for (const t of TARGETS) peakRss[t] = Math.max(peakRss[t], rssMb(pids[t]));
  }, 100);
  const order = (round: number) => TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]!);
  const url = (t: Target) => `${base[t]}/v1/chat/completions`;
  const post = (t: Target, body: string, signal?: AbortSignal) => fetch(url(t), { method: "POST", headers: { "content-type": "application/json" }, body, signal });

  log(`bitrouter: ${useBinary ? "dist/bitrouter" : "source (bun src/main.ts)"}; ${cpus().length} cores; bun ${Bun.version}; ${ROUNDS} rounds, alternating order`);

  // 1. Added latency at concurrency 1, non-streaming.
  for (const t of TARGETS) for (let i = 0; i < 300; i++) await (await post(t, BODY)).text();
  const latency = perTarget((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of order(round)) {
      for (let i = 0; i < 250; i++) {
        const started = performance.now();
        await (await post(t, BODY)).text();
        latency[t].push(performance.now() - started);
      }
    }
  }
  log("latency done");

  // 2. Requests per second at concurrency 32, non-streaming.
  const rps = perTarget((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of order(round)) {
      const until = performance.now() + (QUICK ? 1000 : 2000);
      let done = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (performance.now() < until) {
            await (await post(t, BODY)).text();
            done++;
          }
        }),
      );
      rps[t].push(done / ((performance.now() - started) / 1000));
    }
  }
  log("requests/s done");

  // 2b. CPU per request (the process's own user + system time over a fixed number of requests),
  // for the plain proxy, BitRouter, and a second BitRouter with the usage ledger off.
  const quietDir = mkdtempSync(join(tmpdir(), "bitrouter-bench-noledger-"));
  const quietConfig = join(quietDir, "bitrouter.yaml");
  writeFileSync(quietConfig, `usage: false\n${readFileSync(configPath, "utf8")}`);
  const parsing = await spawnReady([process.execPath, join(ROOT, "scripts/bench/parsing-proxy.ts"), "0", upstreamOrigin], /ready (\d+)/);
  const noLedger = await spawnReady([...bitrouterCmd, "serve", "-c", quietConfig, "--listen", "127.0.0.1:0"], /^ready: http:\/\/127\.0\.0\.1:(\d+)$/m, { HOME: quietDir });
  const cpuTargets: Record<string, { url: string; pid: number }> = {
    passthrough: { url: url("passthrough"), pid: pids.passthrough },
    "parsing proxy": { url: `http://127.0.0.1:${parsing.port}/v1/chat/completions`, pid: parsing.proc.pid },
    bitrouter: { url: url("bitrouter"), pid: pids.bitrouter },
    "bitrouter, ledger off": { url: `http://127.0.0.1:${noLedger.port}/v1/chat/completions`, pid: noLedger.proc.pid },
    ...(before ? { before: { url: url("before"), pid: pids.before } } : {}),
  };
  const cpuUs: Record<string, number[]> = Object.fromEntries(Object.keys(cpuTargets).map((k) => [k, []]));
  const threadUs: Record<string, { js: number; http: number; other: number }[]> = { passthrough: [], "parsing proxy": [], bitrouter: [], ...(before ? { before: [] } : {}) };
  // Linux counts CPU in 10 ms ticks: 20,000 requests of ~80 µs are ~160 ticks, so a tick is under 1 %.
  const PER_ROUND = QUICK ? 10000 : 20000;
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(cpuTargets);
    for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
      const { url: target, pid } = cpuTargets[name]!;
      const before = cpuTicks(pid);
      const threadsBefore = cpuTicksByThread(pid);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next++ < PER_ROUND) await (await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: BODY })).text();
        }),
      );
      // Let the ledger's batched write (every 250 ms) land inside the measurement.
      await Bun.sleep(300);
      cpuUs[name]!.push(((cpuTicks(pid) - before) * 1e6) / CLOCK_TICKS / PER_ROUND);
      const threadsAfter = cpuTicksByThread(pid);
      const us = (k: "js" | "http" | "other") => ((threadsAfter[k] - threadsBefore[k]) * 1e6) / CLOCK_TICKS / PER_ROUND;
      threadUs[name]?.push({ js: us("js"), http: us("http"), other: us("other") });
    }
  }
  noLedger.proc.kill("SIGTERM");
  parsing.proc.kill("SIGTERM");
  log("cpu per request done");

  // 3. Stream events per second: many unpaced streams at once.
  const eventsPerSec = perTarget((): number[] => []);
  // The process's CPU over every round of this phase, divided by the events it relayed.
  const eventCpu = perTarget(() => ({ ticks: 0, events: 0 }));
  const STREAMS = 16;
  const CHUNKS = QUICK ? 2000 : 4000;
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of order(round)) {
      const started = performance.now();
      const ticksBefore = t === "direct" ? 0 : cpuTicks(pids[t]);
      const counts = await Promise.all(Array.from({ length: STREAMS }, async () => countEvents(await post(t, streamBody(`bench:burst:${CHUNKS}`)))));
      const total = counts.reduce((a, b) => a + b, 0);
      if (t !== "direct") {
        eventCpu[t].ticks += cpuTicks(pids[t]) - ticksBefore;
        eventCpu[t].events += total;
      }
      if (counts.some((c) => c < CHUNKS + 2)) throw new Error(`${t}: a stream lost events (${counts.join(",")})`);
      eventsPerSec[t].push(total / ((performance.now() - started) / 1000));
    }
  }
  log("events/s done");

  // 4. Per-chunk delivery lag of paced streams (each chunk stamped with its send time).
  const lag = perTarget((): number[] => []);
  for (let round = 0; round < Math.max(2, ROUNDS / 2); round++) {
    for (const t of order(round)) {
      await Promise.all(Array.from({ length: 16 }, async () => lag[t].push(...(await stampLags(await post(t, streamBody("bench:paced:50:20")))))));
    }
  }
  log("lag done");

  const peakBeforeOpenStreams = { ...peakRss };

  // 5. Memory with many open streams, and after an abort storm.
  const openStreams: Record<string, Record<"passthrough" | "bitrouter", number>> = {};
  for (const count of [500, 2000]) {
    openStreams[count] = { passthrough: 0, bitrouter: 0 };
    for (const t of ["passthrough", "bitrouter"] as const) {
      const controller = new AbortController();
      const open = await Promise.all(Array.from({ length: count }, () => post(t, streamBody("bench:hold:60000"), controller.signal)));
      await Promise.all(open.map(async (r) => r.body!.getReader().read()));
      await Bun.sleep(300);
      openStreams[count]![t] = rssMb(pids[t]);
      controller.abort();
      await Bun.sleep(500);
    }
  }
  const beforeStorm = rssMb(pids.bitrouter);
  for (let wave = 0; wave < 5; wave++) {
    const controller = new AbortController();
    const open = await Promise.all(Array.from({ length: 400 }, () => post("bitrouter", streamBody("bench:paced:1000:5"), controller.signal)));
    await Promise.all(open.map(async (r) => r.body!.getReader().read()));
    controller.abort();
    await Bun.sleep(200);
  }
  await Bun.sleep(2000);
  const afterStorm = rssMb(pids.bitrouter);
  log("memory done");
  clearInterval(sampler);

  const results = {
    date: new Date().toISOString(),
    cores: cpus().length,
    bun: Bun.version,
    bitrouter: useBinary ? "dist/bitrouter" : "source",
    before: beforeBinary,
    latency: Object.fromEntries(TARGETS.map((t) => [t, { p50: percentile(latency[t], 50), p99: percentile(latency[t], 99) }])),
    rps: Object.fromEntries(TARGETS.map((t) => [t, median(rps[t])])),
    eventsPerSec: Object.fromEntries(TARGETS.map((t) => [t, median(eventsPerSec[t])])),
    lag: Object.fromEntries(TARGETS.map((t) => [t, { p50: percentile(lag[t], 50), p99: percentile(lag[t], 99) }])),
    peakRssMb: peakBeforeOpenStreams,
    openStreamsRssMb: openStreams,
    abortStorm: { beforeMb: beforeStorm, afterMb: afterStorm, streams: 2000 },
    coldStartMs: median(coldStarts),
    zeroConfigReadyMs: median(readyTimes),
    bookkeepingUs,
    metricsUs,
    cpuPerEventUs: Object.fromEntries(Object.entries(eventCpu).filter(([k]) => k !== "direct").map(([k, v]) => [k, (v.ticks * 1e6) / CLOCK_TICKS / v.events])),
    cpuPerRequestByThreadUs: Object.fromEntries(Object.entries(threadUs).map(([k, v]) => [k, { js: median(v.map((x) => x.js)), http: median(v.map((x) => x.http)), other: median(v.map((x) => x.other)) }])),
    cpuPerRequestUs: Object.fromEntries(Object.entries(cpuUs).map(([k, v]) => [k, median(v)])),
  };
  printTable(results);
  mkdirSync(join(ROOT, ".bench"), { recursive: true });
  writeFileSync(join(ROOT, ".bench/last.json"), `${JSON.stringify(results, null, 2)}\n`);

  for (const child of [upstream, passthrough, bitrouter, before]) child?.proc.kill("SIGTERM");
  process.exit(0);
}

async function countEvents(response: Response): Promise<number> {
  const decoder = new TextDecoder();
  let count = 0;
  let carry = "";
  for await (const bytes of response.body!) {
    const text = carry + decoder.decode(bytes, { stream: true });
    let index = text.indexOf("\n\n");
    let last = 0;
    while (index !== -1) {
      count++;
      last = index + 2;
      index = text.indexOf("\n\n", last);
    }
    carry = text.slice(last);
  }
  return count;
}

/** Delivery lag of every chunk but the first (the first is time to first token, not lag). */
async function stampLags(response: Response): Promise<number[]> {
  const decoder = new TextDecoder();
  const lags: number[] = [];
  let carry = "";
  let seen = 0;
  for await (const bytes of response.body!) {
    const arrived = wallNow();
    const text = carry + decoder.decode(bytes, { stream: true });
    const end = text.lastIndexOf("\n\n");
    const complete = end === -1 ? "" : text.slice(0, end);
    carry = end === -1 ? text : text.slice(end + 2);
    for (const match of complete.matchAll(/"x_t":([\d.]+)/g)) if (seen++ > 0) lags.push(arrived - Number(match[1]));
  }
  return lags;
}

async function coldStart(configPath: string, dir: string): Promise<number> {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const started = performance.now();
  const proc = Bun.spawn([...bitrouterCmd, "serve", "-c", configPath, "--listen", `127.0.0.1:${port}`], { env: { ...env, HOME: dir, BUN_CONFIG_MAX_HTTP_REQUESTS: "" }, stdout: "ignore", stderr: "ignore" });
  let elapsed = Number.NaN;
  while (performance.now() - started < 5000) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.ok) {
        elapsed = performance.now() - started;
        break;
      }
    } catch {
      await Bun.sleep(1);
    }
  }
  proc.kill("SIGTERM");
  await proc.exited;
  return elapsed;
}

/** No config, nothing on the local servers' ports: time until the banner's `ready:` line (detection done). */
async function zeroConfigReady(): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), "bitrouter-bench-zero-"));
  const port = 40000 + Math.floor(Math.random() * 20000);
  const started = performance.now();
  const proc = Bun.spawn([...bitrouterCmd, "serve", "--listen", `127.0.0.1:${port}`], { cwd: home, env: { PATH: process.env.PATH ?? "", HOME: home }, stdout: "pipe", stderr: "ignore" });
  let out = "";
  let elapsed = Number.NaN;
  const decoder = new TextDecoder();
  for await (const bytes of proc.stdout) {
    out += decoder.decode(bytes, { stream: true });
    if (out.includes("\nready: ")) {
      elapsed = performance.now() - started;
      break;
    }
  }
  proc.kill("SIGTERM");
  await proc.exited;
  return elapsed;
}

/**
 * What the router's memory costs one request, in µs of CPU, measured in this process: order a
 * chain of four targets (a local source cooling, a plan with two accounts, one past spill_at,
 * and an API source) with a conversation key, then record the success and the affinity, as
 * proxyRequest does.
 */
function routerBookkeepingMicros(): number {
  const yaml = `
providers:
  local: { api_base: "http://127.0.0.1:1/v1", models: [{ id: m }] }
  api: { api_base: "https://api.example/v1", api_key: k, models: [{ id: m }] }
models:
  smart:
    endpoints:
      - { provider: local, service_id: m }
      - { provider: anthropic, service_id: m }
      - { provider: api, service_id: m }
`;
  const login = { type: "oauth" as const, access_token: "a", refresh_token: "r", expires_at: 0 };
  const registry = buildRegistry({ ...parseConfigText(yaml, "bench.yaml", {}), path: "bench.yaml" }, {}, { anthropic: { default: login, work: login } });
  const state = createMemoryState();
  const settings = registry.settings;
  state.record(targetKey("local", "m", "default"), { kind: "overloaded", reason: "HTTP 503", untilMs: Date.now() + 3_600_000 }, settings.health);
  const plan = claudeWindows(new Headers({ "anthropic-ratelimit-unified-5h-utilization": "0.97", "anthropic-ratelimit-unified-5h-reset": String(Math.floor(Date.now() / 1000) + 3600) }), Date.now())!;
  state.recordWindows(accountKey("anthropic", "default"), plan);
  const candidates = resolveModel(registry, "smart", "chat_completions").candidates;
  const once = (i: number) => {
    const targets = orderTargets(candidates, { state, settings, now: Date.now(), session: `conversation-${i & 255}` });
    const served = targets[0]!;
    if (state.get(served.key)) state.record(served.key, { kind: "success" }, settings.health);
    state.bind(`conversation-${i & 255}`, served.source.id, served.account.label, settings.sessionTtlMs);
  };
  for (let i = 0; i < 20_000; i++) once(i);
  // The median of several batches: a collection of the bench's own garbage can land in any one.
  const n = 50_000;
  const batches = Array.from({ length: 7 }, () => {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) once(i);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  });
  return median(batches);
}

/** What the metrics cost one request, in µs of CPU, measured in this process: one observe() of a served, priced request. */
function metricsMicros(): number {
  const registry = buildRegistry({ ...parseConfigText("providers:\n  api: { api_base: \"https://api.example/v1\", api_key: k, models: [{ id: m }] }\n", "bench.yaml", {}), path: "bench.yaml" }, {}, {});
  const metrics = createMetrics({ state: createMemoryState(), registry: () => registry });
  const event: RequestEvent = {
    requestId: "r",
    at: Date.now(),
    protocol: "chat_completions",
    requestedModel: "api:m",
    stream: false,
    status: 200,
    attempts: 1,
    failed: [],
    served: { provider: "api", kind: "api", account: "default", upstreamModel: "m", declared: true },
    ttftMs: 120,
    durationMs: 800,
    overheadMs: 0.1,
    usage: { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 800, cacheWriteTokens: 0, reasoningTokens: 0 },
  };
  for (let i = 0; i < 20_000; i++) metrics.observe(event);
  const n = 100_000;
  const batches = Array.from({ length: 7 }, () => {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) metrics.observe(event);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  });
  return median(batches);
}

function log(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

// biome-ignore lint: results shape is local
function printTable(r: any) {
  const f = (n: number | undefined, d = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : "n/a");
  const added = (t: Target, p: "p50" | "p99") => r.latency[t][p] - r.latency.direct[p];
  const hasBefore = Boolean(r.before);
  const lines: string[] = [];
  /** One row; `before` is [figure, ratio] for the older build's columns (shown with --before). */
  const row = (label: string, direct: string, plain: string, now: string, ratio: string, target: string, before: [string, string] = ["", ""]) =>
    lines.push(`| ${label} | ${direct} | ${plain} | ${now} | ${ratio} | ${hasBefore ? `${before[0]} | ${before[1]} | ` : ""}${target} |`);
  lines.push(`BitRouter benchmark, ${r.date.slice(0, 10)}: ${r.cores} cores, bun ${r.bun}, bitrouter from ${r.bitrouter}${hasBefore ? `, before: ${r.before}` : ""}`);
  lines.push("");
  lines.push(`| Figure | Direct | Plain Bun proxy | BitRouter | BitRouter vs plain proxy | ${hasBefore ? "Before | Before vs plain proxy | " : ""}Target |`);
  lines.push(`|---|--:|--:|--:|--:|${hasBefore ? "--:|--:|" : ""}---|`);
  const vsPlain = (value: number, plain: number, d = 2) => `${f(value / plain, d)}×`;
  for (const p of ["p50", "p99"] as const) {
    row(`Added latency c=1, ${p} (ms)`, `${f(r.latency.direct[p])} total`, `+${f(added("passthrough", p))}`, `+${f(added("bitrouter", p))}`, vsPlain(added("bitrouter", p), added("passthrough", p), 1), p === "p50" ? "≤ 1.5×" : "≤ 2×", hasBefore ? [`+${f(added("before", p))}`, vsPlain(added("before", p), added("passthrough", p), 1)] : undefined);
  }
  row("Requests/s, c=32, non-streaming", f(r.rps.direct, 0), f(r.rps.passthrough, 0), f(r.rps.bitrouter, 0), vsPlain(r.rps.bitrouter, r.rps.passthrough), "≥ 0.85×", hasBefore ? [f(r.rps.before, 0), vsPlain(r.rps.before, r.rps.passthrough)] : undefined);
  const ev = r.eventsPerSec;
  row("Stream events/s, 16 unpaced streams", f(ev.direct, 0), f(ev.passthrough, 0), f(ev.bitrouter, 0), vsPlain(ev.bitrouter, ev.passthrough), "≥ 0.85×", hasBefore ? [f(ev.before, 0), vsPlain(ev.before, ev.passthrough)] : undefined);
  const lagDelta = (t: Target, p: "p50" | "p99") => `${r.lag[t][p] - r.lag.passthrough[p] >= 0 ? "+" : ""}${f(r.lag[t][p] - r.lag.passthrough[p])} ms`;
  for (const p of ["p50", "p99"] as const) {
    row(`Per-chunk lag, paced stream, ${p} (ms)`, f(r.lag.direct[p]), f(r.lag.passthrough[p]), f(r.lag.bitrouter[p]), lagDelta("bitrouter", p), "≤ +0.2 ms", hasBefore ? [f(r.lag.before[p]), lagDelta("before", p)] : undefined);
  }
  row("Peak RSS, phases above (MB)", f(r.peakRssMb.direct, 0), f(r.peakRssMb.passthrough, 0), f(r.peakRssMb.bitrouter, 0), "", "≤ 100 MB", hasBefore ? [f(r.peakRssMb.before, 0), ""] : undefined);
  for (const count of Object.keys(r.openStreamsRssMb)) {
    row(`RSS with ${count} open streams (MB)`, "", f(r.openStreamsRssMb[count].passthrough, 0), f(r.openStreamsRssMb[count].bitrouter, 0), "", count === "2000" ? "< 150 MB" : "");
  }
  row("RSS before / after 2,000 aborted streams (MB)", "", "", `${f(r.abortStorm.beforeMb, 0)} / ${f(r.abortStorm.afterMb, 0)}`, "", "flat");
  row("Cold start to first /health (ms)", "", "", f(r.coldStartMs, 0), "", "≤ 60 ms");
  row("Zero-config start to `ready`, local servers probed, none listening (ms)", "", "", f(r.zeroConfigReadyMs, 0), "", "about 1 s");
  row("Router memory per request: order 4 targets, record, bind (µs CPU, in process)", "", "", f(r.bookkeepingUs), "", "");
  row("Metrics per request: one observe() (µs CPU, in process)", "", "", f(r.metricsUs), "", "");
  const cpu = r.cpuPerRequestUs;
  row("CPU per request, c=32, non-streaming (µs)", "", f(cpu.passthrough, 1), f(cpu.bitrouter, 1), vsPlain(cpu.bitrouter, cpu.passthrough), "≤ 1.3×", hasBefore ? [f(cpu.before, 1), vsPlain(cpu.before, cpu.passthrough)] : undefined);
  row("CPU per request, a Hono proxy that parses the request and the answer (µs)", "", "", f(cpu["parsing proxy"], 1), vsPlain(cpu["parsing proxy"], cpu.passthrough), "");
  const threads = r.cpuPerRequestByThreadUs;
  for (const [k, label] of [["js", "main thread (JavaScript, Bun.serve)"], ["http", "fetch thread"], ["other", "JIT, GC and allocator threads"]] as const) {
    const delta = (t: string) => `+${f(threads[t][k] - threads.passthrough[k], 1)} µs`;
    row(`… of which ${label} (µs)`, "", f(threads.passthrough[k], 1), f(threads.bitrouter[k], 1), delta("bitrouter"), "", hasBefore ? [f(threads.before[k], 1), delta("before")] : undefined);
  }
  const perEvent = r.cpuPerEventUs;
  row("CPU per stream event, 16 unpaced streams (µs)", "", f(perEvent.passthrough, 3), f(perEvent.bitrouter, 3), vsPlain(perEvent.bitrouter, perEvent.passthrough), "≤ 1.5×", hasBefore ? [f(perEvent.before, 3), vsPlain(perEvent.before, perEvent.passthrough)] : undefined);
  row("CPU per request with the usage ledger off (µs)", "", "", f(cpu["bitrouter, ledger off"], 1), `ledger: ${f(((cpu.bitrouter - cpu["bitrouter, ledger off"]) / cpu.bitrouter) * 100, 1)}% of BitRouter's CPU`, "< 5 %");
  lines.push("");
  lines.push("Lag excludes each stream's first chunk (that is time to first token, in the latency rows).");
  console.log(lines.join("\n"));
}

await main();
