// Side-by-side measurements in one run (SPEC §12): the direct path (client → fake source), a
// plain Bun pass-through proxy (the floor for any Bun gateway), and BitRouter, alternating
// order round by round. Prints a table of ratios; never asserts. Writes .bench/last.json.
//
//   bun run bench            (uses dist/bitrouter when built, else the source)
//   bun run bench -- --quick (fewer rounds)
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { parseConfigText } from "../src/config/load.ts";
import { orderTargets } from "../src/routing/order.ts";
import { resolveModel } from "../src/routing/resolve.ts";
import { buildRegistry } from "../src/sources/registry.ts";
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

type Target = "direct" | "passthrough" | "bitrouter";
const TARGETS: Target[] = ["direct", "passthrough", "bitrouter"];

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

  const base: Record<Target, string> = {
    direct: upstreamOrigin,
    passthrough: `http://127.0.0.1:${passthrough.port}`,
    bitrouter: `http://127.0.0.1:${bitrouter.port}`,
  };
  const pids: Record<Target, number> = { direct: upstream.proc.pid, passthrough: passthrough.proc.pid, bitrouter: bitrouter.proc.pid };
  const peakRss: Record<Target, number> = { direct: 0, passthrough: 0, bitrouter: 0 };
  const sampler = setInterval(() => {
    for (const t of TARGETS) peakRss[t] = Math.max(peakRss[t], rssMb(pids[t]));
  }, 100);
  const order = (round: number) => TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]!);
  const url = (t: Target) => `${base[t]}/v1/chat/completions`;
  const post = (t: Target, body: string, signal?: AbortSignal) => fetch(url(t), { method: "POST", headers: { "content-type": "application/json" }, body, signal });

  log(`bitrouter: ${useBinary ? "dist/bitrouter" : "source (bun src/main.ts)"}; ${cpus().length} cores; bun ${Bun.version}; ${ROUNDS} rounds, alternating order`);

  // 1. Added latency at concurrency 1, non-streaming.
  for (const t of TARGETS) for (let i = 0; i < 300; i++) await (await post(t, BODY)).text();
  const latency: Record<Target, number[]> = { direct: [], passthrough: [], bitrouter: [] };
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
  const rps: Record<Target, number[]> = { direct: [], passthrough: [], bitrouter: [] };
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
  const noLedger = await spawnReady([...bitrouterCmd, "serve", "-c", quietConfig, "--listen", "127.0.0.1:0"], /^ready: http:\/\/127\.0\.0\.1:(\d+)$/m, { HOME: quietDir });
  const cpuTargets = { passthrough: { url: url("passthrough"), pid: pids.passthrough }, bitrouter: { url: url("bitrouter"), pid: pids.bitrouter }, "bitrouter, ledger off": { url: `http://127.0.0.1:${noLedger.port}/v1/chat/completions`, pid: noLedger.proc.pid } };
  const cpuUs: Record<string, number[]> = Object.fromEntries(Object.keys(cpuTargets).map((k) => [k, []]));
  // Linux counts CPU in 10 ms ticks: 20,000 requests of ~80 µs are ~160 ticks, so a tick is under 1 %.
  const PER_ROUND = QUICK ? 10000 : 20000;
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(cpuTargets) as (keyof typeof cpuTargets)[];
    for (const name of names.map((_, i) => names[(i + round) % names.length]!)) {
      const { url: target, pid } = cpuTargets[name];
      const before = cpuTicks(pid);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next++ < PER_ROUND) await (await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: BODY })).text();
        }),
      );
      // Let the ledger's batched write (every 250 ms) land inside the measurement.
      await Bun.sleep(300);
      cpuUs[name]!.push(((cpuTicks(pid) - before) * 1e6) / CLOCK_TICKS / PER_ROUND);
    }
  }
  noLedger.proc.kill("SIGTERM");
  log("cpu per request done");

  // 3. Stream events per second: many unpaced streams at once.
  const eventsPerSec: Record<Target, number[]> = { direct: [], passthrough: [], bitrouter: [] };
  const STREAMS = 16;
  const CHUNKS = QUICK ? 2000 : 4000;
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of order(round)) {
      const started = performance.now();
      const counts = await Promise.all(Array.from({ length: STREAMS }, async () => countEvents(await post(t, streamBody(`bench:burst:${CHUNKS}`)))));
      const total = counts.reduce((a, b) => a + b, 0);
      if (counts.some((c) => c < CHUNKS + 2)) throw new Error(`${t}: a stream lost events (${counts.join(",")})`);
      eventsPerSec[t].push(total / ((performance.now() - started) / 1000));
    }
  }
  log("events/s done");

  // 4. Per-chunk delivery lag of paced streams (each chunk stamped with its send time).
  const lag: Record<Target, number[]> = { direct: [], passthrough: [], bitrouter: [] };
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
    cpuPerRequestUs: Object.fromEntries(Object.entries(cpuUs).map(([k, v]) => [k, median(v)])),
  };
  printTable(results);
  mkdirSync(join(ROOT, ".bench"), { recursive: true });
  writeFileSync(join(ROOT, ".bench/last.json"), `${JSON.stringify(results, null, 2)}\n`);

  for (const child of [upstream, passthrough, bitrouter]) child.proc.kill("SIGTERM");
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

function log(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

// biome-ignore lint: results shape is local
function printTable(r: any) {
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
  const added = (t: Target, p: "p50" | "p99") => r.latency[t][p] - r.latency.direct[p];
  const lines: string[] = [];
  lines.push(`BitRouter benchmark, ${r.date.slice(0, 10)}: ${r.cores} cores, bun ${r.bun}, bitrouter from ${r.bitrouter}`);
  lines.push("");
  lines.push("| Figure | Direct | Plain Bun proxy | BitRouter | BitRouter vs plain proxy | Target |");
  lines.push("|---|--:|--:|--:|--:|---|");
  for (const p of ["p50", "p99"] as const) {
    lines.push(
      `| Added latency c=1, ${p} (ms) | ${f(r.latency.direct[p])} total | +${f(added("passthrough", p))} | +${f(added("bitrouter", p))} | ${f(added("bitrouter", p) / added("passthrough", p), 1)}× | ≤ 2× |`,
    );
  }
  lines.push(`| Requests/s, c=32, non-streaming | ${f(r.rps.direct, 0)} | ${f(r.rps.passthrough, 0)} | ${f(r.rps.bitrouter, 0)} | ${f(r.rps.bitrouter / r.rps.passthrough)}× | ≥ 0.8× |`);
  lines.push(
    `| Stream events/s, 16 unpaced streams | ${f(r.eventsPerSec.direct, 0)} | ${f(r.eventsPerSec.passthrough, 0)} | ${f(r.eventsPerSec.bitrouter, 0)} | ${f(r.eventsPerSec.bitrouter / r.eventsPerSec.passthrough)}× | ≥ 0.8× |`,
  );
  for (const p of ["p50", "p99"] as const) {
    lines.push(`| Per-chunk lag, paced stream, ${p} (ms) | ${f(r.lag.direct[p])} | ${f(r.lag.passthrough[p])} | ${f(r.lag.bitrouter[p])} | ${r.lag.bitrouter[p] - r.lag.passthrough[p] >= 0 ? "+" : ""}${f(r.lag.bitrouter[p] - r.lag.passthrough[p])} ms | ≤ +0.2 ms |`);
  }
  lines.push(`| Peak RSS, phases above (MB) | ${f(r.peakRssMb.direct, 0)} | ${f(r.peakRssMb.passthrough, 0)} | ${f(r.peakRssMb.bitrouter, 0)} | | ≤ 100 MB |`);
  for (const count of Object.keys(r.openStreamsRssMb)) {
    lines.push(`| RSS with ${count} open streams (MB) | | ${f(r.openStreamsRssMb[count].passthrough, 0)} | ${f(r.openStreamsRssMb[count].bitrouter, 0)} | | ${count === "2000" ? "< 150 MB" : ""} |`);
  }
  lines.push(`| RSS before / after 2,000 aborted streams (MB) | | | ${f(r.abortStorm.beforeMb, 0)} / ${f(r.abortStorm.afterMb, 0)} | | flat |`);
  lines.push(`| Cold start to first /health (ms) | | | ${f(r.coldStartMs, 0)} | | ≤ 100 ms |`);
  lines.push(`| Zero-config start to \`ready\`, local servers probed, none listening (ms) | | | ${f(r.zeroConfigReadyMs, 0)} | | about 1 s |`);
  lines.push(`| Router memory per request: order 4 targets, record, bind (µs CPU, in process) | | | ${f(r.bookkeepingUs)} | | |`);
  const cpu = r.cpuPerRequestUs;
  lines.push(`| CPU per request, c=32, non-streaming (µs) | | ${f(cpu.passthrough, 1)} | ${f(cpu.bitrouter, 1)} | ${f(cpu.bitrouter / cpu.passthrough)}× | ≤ 1.3× |`);
  lines.push(`| CPU per request with the usage ledger off (µs) | | | ${f(cpu["bitrouter, ledger off"], 1)} | ledger: ${f(((cpu.bitrouter - cpu["bitrouter, ledger off"]) / cpu.bitrouter) * 100, 1)}% of BitRouter's CPU | < 5 % |`);
  lines.push("");
  lines.push("Lag excludes each stream's first chunk (that is time to first token, in the latency rows).");
  console.log(lines.join("\n"));
}

await main();
