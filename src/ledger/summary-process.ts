// GET /bitrouter/usage summarises in a child process (`bitrouter usage --json --file …`): a
// query over months of rows takes seconds in SQLite, and the server's one thread must keep
// proxying meanwhile. The child reads the same file (WAL lets it), after the server has written
// what it had queued.
import type { UsageQuery, UsageSummary } from "./store.ts";

export type SummaryResult = { ok: true; summary: UsageSummary } | { ok: false; reason: string };

/** How this program runs itself: the compiled binary, or bun with the entry script. */
function selfCommand(): string[] {
  return Bun.isStandaloneExecutable ? [process.execPath] : [process.execPath, "--no-env-file", process.argv[1] ?? "src/main.ts"];
}

/** One summary at a time: each is a whole process, and a dashboard may ask often. */
let running: Promise<unknown> = Promise.resolve();

export function summarizeInChild(path: string, query: UsageQuery, timeoutMs = 60_000): Promise<SummaryResult> {
  const next = running.then(() => runChild(path, query, timeoutMs));
  running = next.catch(() => {});
  return next;
}

async function runChild(path: string, query: UsageQuery, timeoutMs: number): Promise<SummaryResult> {
  // `--name=value`: a value that starts with "-" (a negative offset) is refused as a separate word.
  const args = [
    "usage",
    "--json",
    `--file=${path}`,
    `--since=${new Date(query.since).toISOString()}`,
    `--until=${new Date(query.until).toISOString()}`,
    `--by=${query.by}`,
    `--utc-offset-minutes=${query.utcOffsetMinutes}`,
  ];
  const child = Bun.spawn([...selfCommand(), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "1" } });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) return { ok: false, reason: stderr.trim().replace(/^error: /, "") || (child.signalCode ? `the summary took longer than ${timeoutMs / 1000} s` : `exit ${code}`) };
    return { ok: true, summary: JSON.parse(stdout) as UsageSummary };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
