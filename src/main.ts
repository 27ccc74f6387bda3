// The entry point: the only place that starts anything. No default export (Bun would serve it).
import { homedir } from "node:os";
import { runCli } from "./cli/run.ts";

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  homeDir: process.env.HOME || homedir(),
});
process.exitCode = code;
