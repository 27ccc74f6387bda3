// A seeded config fuzzer (issue #9): valid bitrouter.yaml files, mutated as text (spans cut,
// YAML tokens, anchors and aliases, tabs, unicode, variables, odd values, duplicated lines),
// checked in-process by the loader for thousands of cases and through `bitrouter config check`
// and start (the built binary in CI) for a sample. Every case either loads or fails with
// problems that each have a file, line and column; never another exception, a stack trace, an
// exit code other than 0/1, or a hang. FUZZ_SEED replays a run; FUZZ_CONFIG_CASES sets its size.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseConfigText } from "../../src/config/load.ts";
import { bitrouterCommand, cleanEnv } from "../support/bitrouter.ts";
import { type Random, seededRandom } from "./random.ts";

const CASES = Number(process.env.FUZZ_CONFIG_CASES ?? 3000);
const ROOT = join(import.meta.dir, "../..");
const random = seededRandom();

const BASES = [
  readFileSync(join(ROOT, "bitrouter.yaml"), "utf8"),
  readFileSync(join(ROOT, "src/config/starter.yaml"), "utf8"),
  `server:
  listen: 127.0.0.1:4356
  api_keys: ["\${BITROUTER_KEY:-k}"]
  body_limit_mb: 8
upstream:
  timeouts: { connect_secs: 5, read_secs: 60, total_secs: null }
  max_retry_wait_secs: 2
providers:
  local:
    api_base: http://127.0.0.1:8000/v1
    api_protocol:
      - "claude-*": messages
      - "*": chat_completions
    models:
      - { id: qwen, context_length: 32768, capabilities: [tools, reasoning] }
    timeouts: { read_secs: 30 }
models:
  smart:
    strategy: priority
    endpoints:
      - { provider: local, service_id: qwen }
      - { provider: openrouter, service_id: openai/gpt-4o }
`,
];

const TOKENS = [":", ": ", "- ", "{", "}", "[", "]", ",", "*a", "&a ", "*nope", "!!binary ", "!!js/function ", "\t", "${", "${X", "${X:-", "}", "\u0000", "日本語", "'", '"', "? ", "#", "|", ">", "---\n", "...\n", "~", "null", "1e999", "-1", "0x1F", "true", "[]", "{}", "<<: *a\n", "\r\n", "\ufeff", "%YAML 1.2\n"];
const VALUES = ["-5", "0", "1e308", "0.0000001", "''", '""', "[1, 2]", "{a: 1}", "~", "yes", "http://", "127.0.0.1:99999", "*a", "&a [1]", '"${UNSET}"', "日本語"];

function mutate(text: string, r: Random): string {
  let out = text;
  const rounds = 1 + r.int(3);
  for (let i = 0; i < rounds; i++) {
    const at = r.int(out.length + 1);
    switch (r.int(7)) {
      case 0: // cut a span
        out = out.slice(0, at) + out.slice(at + r.int(40));
        break;
      case 1: // insert a YAML token
        out = out.slice(0, at) + r.pick(TOKENS) + out.slice(at);
        break;
      case 2: {
        // replace a value after a colon
        const lines = out.split("\n");
        const n = r.int(lines.length);
        lines[n] = lines[n]!.replace(/:\s+\S.*$/, `: ${r.pick(VALUES)}`);
        out = lines.join("\n");
        break;
      }
      case 3: {
        // duplicate a line (duplicate keys)
        const lines = out.split("\n");
        const n = r.int(lines.length);
        lines.splice(n, 0, lines[n]!);
        out = lines.join("\n");
        break;
      }
      case 4: {
        // shift a line's indentation
        const lines = out.split("\n");
        const n = r.int(lines.length);
        lines[n] = r.chance(0.5) ? ` ${lines[n]}` : lines[n]!.replace(/^ /, "");
        out = lines.join("\n");
        break;
      }
      case 5: // truncate
        out = out.slice(0, at);
        break;
      default: // an anchor and aliases to it
        out = `x: &a [1, 2, 3]\n${out.slice(0, at)}*a${out.slice(at)}`;
    }
  }
  return out;
}

test(`${CASES} mutated configs load or fail with positions, never another exception (seed ${random.seed})`, () => {
  const failures: string[] = [];
  let loaded = 0;
  for (let i = 0; i < CASES; i++) {
    const text = mutate(random.pick(BASES), random);
    const started = performance.now();
    try {
      parseConfigText(text, "f.yaml", { BITROUTER_KEY: "k" });
      loaded++;
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        failures.push(`case ${i}: ${(err as Error).name}: ${(err as Error).message.slice(0, 120)}\n${text.slice(0, 400)}`);
      } else {
        for (const p of err.problems.filter((p) => p.severity === "error")) {
          if (!(p.line >= 1 && p.column >= 1 && p.file === "f.yaml" && p.message)) failures.push(`case ${i}: a problem without a position: ${JSON.stringify(p)}\n${text.slice(0, 400)}`);
        }
      }
    }
    if (performance.now() - started > 2000) failures.push(`case ${i}: took ${Math.round(performance.now() - started)} ms`);
  }
  console.log(`config fuzz (in-process): seed ${random.seed}, ${CASES} cases, ${loaded} loaded, ${failures.length} failed`);
  expect(failures.slice(0, 10)).toEqual([]);
});

test("a sample through `bitrouter config check` and start: exit 0 or 1, a position, no stack trace, no hang", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bitrouter-config-fuzz-"));
  const failures: string[] = [];
  const sample = Number(process.env.FUZZ_CONFIG_SAMPLE ?? 40);
  const run = async (args: string[], ms: number) => {
    const proc = Bun.spawn([...bitrouterCommand(), ...args], { cwd: dir, env: cleanEnv({}, dir), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    return { stdout, stderr, code, killed: proc.signalCode === "SIGKILL" };
  };
  for (let i = 0; i < sample; i++) {
    const text = mutate(random.pick(BASES), random);
    const path = join(dir, `c${i}.yaml`);
    writeFileSync(path, text);
    // Start only broken ones (a valid one would serve until stopped), every other case.
    let broken = false;
    try {
      parseConfigText(text, path, {});
    } catch {
      broken = true;
    }
    const args = broken && i % 2 === 1 ? ["serve", "-c", path, "--listen", "127.0.0.1:0"] : ["config", "check", "-c", path];
    const result = await run(args, 10_000);
    const out = result.stdout + result.stderr;
    if (result.killed && args[0] === "config") failures.push(`case ${i}: config check hung`);
    if (/^\s+at .+:\d+:\d+\)?$/m.test(out) || /Bun v\d/.test(out)) failures.push(`case ${i}: a stack trace\n${out.slice(0, 600)}`);
    if (args[0] === "config" && result.code !== 0 && result.code !== 1) failures.push(`case ${i}: exit ${result.code}`);
    if (args[0] === "serve" && result.killed) failures.push(`case ${i}: a broken config started or hung\n${out.slice(0, 400)}`);
    if (result.code === 1 && /error:/.test(result.stderr) && !/c\d+\.yaml:\d+:\d+: error:/.test(result.stderr)) failures.push(`case ${i}: an error without a position\n${result.stderr.slice(0, 400)}`);
  }
  console.log(`config fuzz (binary): ${sample} cases, ${failures.length} failed`);
  expect(failures.slice(0, 10)).toEqual([]);
}, 300_000);
