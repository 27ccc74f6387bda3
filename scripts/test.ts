// npm test → bun test over the unit and end-to-end suites, then one line `N passed, N failed`.
// Extra arguments go to bun test (a path or -t filter). BITROUTER_BIN=dist/bitrouter makes the
// end-to-end tests drive the compiled binary instead of the source.
// The dashboard's browser tests need Debian's Chromium: installed here with apt when it is
// missing and this user may (root, or sudo without a password), else a note on how.
import { existsSync } from "node:fs";

const extra = process.argv.slice(2);
const targets = extra.some((a) => !a.startsWith("-")) ? [] : ["tests/unit", "tests/e2e"];
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(chromium) && (targets.length > 0 || extra.some((a) => a.includes("e2e")))) ensureChromium();

function ensureChromium(): void {
  const run = (cmd: string[]) => Bun.spawnSync(cmd, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).exitCode === 0;
  const root = process.getuid?.() === 0;
  const sudo = !root && Bun.which("sudo") !== null && Bun.spawnSync(["sudo", "-n", "true"]).exitCode === 0;
  if (Bun.which("apt-get") === null || (!root && !sudo)) {
    console.error(`note: the dashboard tests need Chromium at ${chromium}; install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
    return;
  }
  const apt = (args: string[]) => run([...(root ? [] : ["sudo", "-n"]), "apt-get", ...args]);
  console.error("note: installing Debian's chromium for the dashboard tests (apt-get install chromium)");
  if (!apt(["install", "-y", "-q", "chromium"])) apt(["update", "-q"]) && apt(["install", "-y", "-q", "chromium"]);
}
const proc = Bun.spawn([process.execPath, "test", "--timeout", "30000", ...targets, ...extra], { stdout: "pipe", stderr: "pipe", env: process.env });

let output = "";
const relay = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    const text = decoder.decode(bytes, { stream: true });
    output += text;
    sink.write(text);
  }
};
await Promise.all([relay(proc.stdout, process.stdout), relay(proc.stderr, process.stderr)]);
const code = await proc.exited;

const passed = Number(/^\s*(\d+) pass$/m.exec(output)?.[1] ?? 0);
const failed = Number(/^\s*(\d+) fail$/m.exec(output)?.[1] ?? (code === 0 ? 0 : 1));
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
