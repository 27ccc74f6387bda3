// Where BitRouter's CPU goes (issue #14): runs the benchmark's model source, BitRouter from source
// under Bun's sampling profiler (`--cpu-prof-md`), and a c=32 load of non-streaming requests, then
// of streams (`bench:burst`); prints each profile's hottest functions and keeps the full
// Markdown profiles in .bench/profile/.
//
//   bun scripts/profile.ts [seconds per phase, default 6]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const OUT = join(ROOT, ".bench/profile");
const SECONDS = Number(process.argv[2] ?? 6);

async function ready(proc: ReturnType<typeof Bun.spawn>, pattern: RegExp): Promise<number> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited (${await proc.exited}) before it was ready: ${text}`);
    text += new TextDecoder().decode(value);
    const match = pattern.exec(text);
    if (match) {
      reader.releaseLock();
      return Number(match[1]);
    }
  }
}

/** `connections` clients, each sending one request after another for SECONDS; requests per second. */
async function load(url: string, body: string, connections: number): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        await (await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })).arrayBuffer();
        n++;
      }
    }),
  );
  return n / SECONDS;
}

/** Bun 1.4.5 under --cpu-prof now and then dies of signal 30 while starting: tried three times. */
async function profile(name: string, body: string, connections: number, upstream: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await profileOnce(name, body, connections, upstream);
    } catch (err) {
      if (attempt === 3) throw err;
      console.error(`(${(err as Error).message.split(":")[0]}; trying again)`);
    }
  }
}

async function profileOnce(name: string, body: string, connections: number, upstream: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bitrouter-profile-"));
  writeFileSync(join(dir, "bitrouter.yaml"), `server:\n  keepalive_secs: 60\n  log_level: warn\nproviders:\n  bench:\n    api_base: http://127.0.0.1:${upstream}/v1\n    models: [{ id: bench-model }]\n`);
  const proc = Bun.spawn([process.execPath, "--cpu-prof-md", `--cpu-prof-dir=${dir}`, join(ROOT, "src/main.ts"), "serve", "-c", join(dir, "bitrouter.yaml"), "--listen", "127.0.0.1:0"], {
    env: { PATH: process.env.PATH ?? "", HOME: dir, BITROUTER_HOME: join(dir, "home") },
    stdout: "pipe",
    stderr: "inherit",
  });
  const port = await ready(proc, /^ready: http:\/\/127\.0\.0\.1:(\d+)$/m);
  const rate = await load(`http://127.0.0.1:${port}/v1/chat/completions`, body, connections);
  proc.kill("SIGTERM");
  await proc.exited;
  const file = readdirSync(dir).find((f) => f.endsWith(".md"));
  if (!file) throw new Error("no profile was written");
  const text = readFileSync(join(dir, file), "utf8");
  writeFileSync(join(OUT, `${name}.md`), text);
  rmSync(dir, { recursive: true, force: true });
  const rows = text.split("\n").filter((l) => /^\| [\d.]+% \|/.test(l)).slice(0, 20);
  console.log(`\n## ${name}: ${rate.toFixed(0)} requests/s at c=${connections} (full profile: .bench/profile/${name}.md)\n`);
  console.log("| Self% | Self | Total% | Total | Function | Location |\n|--:|--:|--:|--:|---|---|");
  for (const row of rows) console.log(row);
}

mkdirSync(OUT, { recursive: true });
const upstreamProc = Bun.spawn([process.execPath, join(ROOT, "scripts/bench/upstream.ts"), "0"], { stdout: "pipe", stderr: "ignore" });
const upstream = await ready(upstreamProc, /ready (\d+)/);
try {
  await profile("requests", JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: "hi" }] }), 32, upstream);
  await profile("streams", JSON.stringify({ model: "bench-model", stream: true, messages: [{ role: "user", content: "bench:burst:2000" }] }), 16, upstream);
} finally {
  upstreamProc.kill();
}
