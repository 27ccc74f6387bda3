// npm test → bun test over the unit and end-to-end suites, then one line `N passed, N failed`.
// Extra arguments go to bun test (a path or -t filter). BITROUTER_BIN=dist/bitrouter makes the
// end-to-end tests drive the compiled binary instead of the source.
// Two suites need Debian packages: the dashboard's browser tests Chromium, the shared-state
// tests redis-server. Each is installed here with apt when it is missing and this user may
// (root, or sudo without a password), else a note says how.
import { existsSync } from "node:fs";

const extra = process.argv.slice(2);
const targets = extra.some((a) => !a.startsWith("-")) ? [] : ["tests/unit", "tests/e2e"];
const runsE2e = targets.length > 0 || extra.some((a) => a.includes("e2e"));
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const missing = [
  ...(!existsSync(chromium) ? [{ pkg: "chromium", why: `the dashboard tests need Chromium at ${chromium}; or set CHROMIUM_PATH` }] : []),
  ...(Bun.which("redis-server") === null ? [{ pkg: "redis-server", why: "the shared-state tests need redis-server" }] : []),
];
if (runsE2e && missing.length > 0) ensurePackages(missing);

function ensurePackages(packages: { pkg: string; why: string }[]): void {
  const run = (cmd: string[]) => Bun.spawnSync(cmd, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).exitCode === 0;
  const root = process.getuid?.() === 0;
  const sudo = !root && Bun.which("sudo") !== null && Bun.spawnSync(["sudo", "-n", "true"]).exitCode === 0;
  const names = packages.map((p) => p.pkg);
  if (Bun.which("apt-get") === null || (!root && !sudo)) {
    for (const p of packages) console.error(`note: ${p.why} (apt-get install ${p.pkg})`);
    return;
  }
  const apt = (args: string[]) => run([...(root ? [] : ["sudo", "-n"]), "apt-get", ...args]);
  console.error(`note: installing Debian's ${names.join(" and ")} for the tests (apt-get install ${names.join(" ")})`);
  if (!apt(["install", "-y", "-q", ...names])) apt(["update", "-q"]) && apt(["install", "-y", "-q", ...names]);
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
