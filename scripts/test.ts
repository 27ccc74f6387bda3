// npm test → bun test over the unit and end-to-end suites, then one line `N passed, N failed`.
// Extra arguments go to bun test (a path or -t filter). BITROUTER_BIN=dist/bitrouter makes the
// end-to-end tests drive the compiled binary instead of the source.
export {};

const extra = process.argv.slice(2);
const targets = extra.some((a) => !a.startsWith("-")) ? [] : ["tests/unit", "tests/e2e"];
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
