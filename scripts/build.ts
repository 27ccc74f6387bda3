// bun run build → dist/bitrouter: one self-contained executable (CLI and server).
// The binary must not pick up a .env or bunfig.toml from the directory it is run in: provider
// keys come from the environment the user chose, nothing else.
import { mkdirSync } from "node:fs";

const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stderr: "ignore" }).stdout.toString().trim();
const outfile = process.argv[2] ?? "dist/bitrouter";
mkdirSync("dist", { recursive: true });

const args = [
  "build",
  "src/main.ts",
  "--compile",
  "--minify",
  "--keep-names",
  "--sourcemap",
  "--bytecode",
  "--format=esm",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  ...(commit ? ["--define", `BUILD_COMMIT=${JSON.stringify(commit)}`] : []),
  "--outfile",
  outfile,
];
const started = performance.now();
const result = Bun.spawnSync([process.execPath, ...args], { stdout: "inherit", stderr: "inherit" });
if (result.exitCode !== 0) {
  console.error(`build failed (exit ${result.exitCode})`);
  process.exit(result.exitCode ?? 1);
}
console.log(`built ${outfile} in ${Math.round(performance.now() - started)} ms`);
