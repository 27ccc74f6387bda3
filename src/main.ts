// The entry point: the only place that starts anything. No default export (Bun would serve it).
import { homedir } from "node:os";
import { terminalSafe } from "./cli/io.ts";
import { runCli, startsServer } from "./cli/run.ts";

const argv = process.argv.slice(2);

// Bun queues fetch() calls beyond 256 at a time unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when
// the process starts (setting it later has no effect). A gateway holding more open streams than
// that would stall them, so the server re-executes itself once with it set: same pid, via execve.
if (startsServer(argv) && !process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  const script = Bun.isStandaloneExecutable ? [] : [...process.execArgv, process.argv[1]!];
  process.execve?.(process.execPath, [process.execPath, ...script, ...argv], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "16384" });
}

// A reader that went away (`bitrouter usage | head`) ends the command quietly, as for any CLI
// tool: the failed write is reported as an error event on the stream.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
const write = (stream: NodeJS.WriteStream, text: string) => stream.write(terminalSafe(text));

const code = await runCli(argv, {
  stdout: (text) => write(process.stdout, text),
  stderr: (text) => write(process.stderr, text),
  env: process.env,
  cwd: process.cwd(),
  homeDir: process.env.HOME || homedir(),
});
process.exitCode = code;
