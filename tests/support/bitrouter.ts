// Start BitRouter as a user would: a separate process, from source (`bun src/main.ts`) or,
// when BITROUTER_BIN is set (CI), the compiled binary. It listens on a free port and the
// test reads the address from its banner.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const ROOT = resolve(import.meta.dir, "../..");

export interface RunningBitRouter {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  configPath: string;
  dir: string;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for the exit code; rejects if the process does not exit within 4 s (a leak). */
  stop(): Promise<number>;
}

/** The command that runs bitrouter: the built binary in CI, the source otherwise. */
export function bitrouterCommand(): string[] {
  const bin = process.env.BITROUTER_BIN;
  // From source, Bun would load a .env from the working directory; the binary never does.
  return bin ? [resolve(ROOT, bin)] : [process.execPath, "--no-env-file", join(ROOT, "src/main.ts")];
}

/** A clean environment: no provider keys leak in from the machine running the tests. */
export function cleanEnv(extra: Record<string, string> = {}, home?: string): Record<string, string> {
  const dir = home ?? mkdtempSync(join(tmpdir(), "bitrouter-home-"));
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    BITROUTER_HOME: join(dir, ".bitrouter"),
    NO_PROXY: "127.0.0.1,localhost,::1",
    ...extra,
  };
}

export async function startBitRouter(options: { config?: string; env?: Record<string, string>; args?: string[]; dir?: string } = {}): Promise<RunningBitRouter> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "bitrouter-test-"));
  const configPath = join(dir, "bitrouter.yaml");
  if (options.config !== undefined) writeFileSync(configPath, options.config);
  const args = options.args ?? ["serve", "-c", configPath, "--listen", "127.0.0.1:0"];
  const proc = Bun.spawn([...bitrouterCommand(), ...args], {
    cwd: dir,
    env: cleanEnv(options.env ?? {}, dir),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const collect = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const decoder = new TextDecoder();
    for await (const bytes of stream) onText(decoder.decode(bytes, { stream: true }));
  };
  void collect(proc.stdout, (t) => (out += t));
  void collect(proc.stderr, (t) => (err += t));

  const deadline = Date.now() + 15000;
  let url: string | undefined;
  while (Date.now() < deadline) {
    const match = /^ready: (http:\/\/\S+)$/m.exec(out);
    if (match) {
      url = match[1];
      break;
    }
    if (proc.exitCode !== null) break;
    await Bun.sleep(20);
  }
  if (!url) {
    proc.kill("SIGKILL");
    throw new Error(`bitrouter did not start (exit ${proc.exitCode}).\nstdout:\n${out}\nstderr:\n${err}`);
  }
  return {
    url: url!,
    proc,
    configPath,
    dir,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited, Bun.sleep(4000).then(() => null)]);
      if (exited === null) {
        proc.kill("SIGKILL");
        throw new Error(`bitrouter did not exit within 4 s of SIGTERM (something was left running).\nstderr:\n${err.slice(-2000)}`);
      }
      return exited;
    },
  };
}

/** Run a bitrouter command to completion. */
export async function runBitRouter(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), "bitrouter-cli-"));
  const proc = Bun.spawn([...bitrouterCommand(), ...args], { cwd, env: cleanEnv(options.env ?? {}, cwd), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
