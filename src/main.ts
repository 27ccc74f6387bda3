// The entry point: the only place that starts anything. No default export (Bun would serve it).
import { homedir } from "node:os";
import { runCli, startsServer } from "./cli/run.ts";

const argv = process.argv.slice(2);

// Bun queues fetch() calls beyond 256 at a time unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when
// the process starts (setting it later has no effect). A gateway holding more open streams than
// that would stall them, so the server re-executes itself once with it set: same pid, via execve.
if (startsServer(argv) && !process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  const script = Bun.isStandaloneExecutable ? [] : [...process.execArgv, process.argv[1]!];
  process.execve?.(process.execPath, [process.execPath, ...script, ...argv], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "16384" });
}

const code = await runCli(argv, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  homeDir: process.env.HOME || homedir(),
});
process.exitCode = code;
