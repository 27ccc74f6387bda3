// A real redis-server (the Debian package) for the shared-state tests: started on a free port with
// no persistence, stopped and started again on the same port on demand. `npm test` and .ci/run
// install the package when it is missing.
import { RedisClient, type Subprocess } from "bun";

export interface TestRedis {
  port: number;
  url: string;
  /** Stop the server (SIGKILL: as a crash or a lost host looks). */
  kill(): Promise<void>;
  /** Start it again on the same port, empty (no persistence), and wait until it answers. */
  start(): Promise<void>;
  /** Any redis-cli command; its output. */
  cli(...args: string[]): Promise<string>;
  /** One command through a client (arguments may hold any byte, NUL included); its reply. */
  send(command: string, ...args: string[]): Promise<unknown>;
}

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export async function startRedis(): Promise<TestRedis> {
  const port = freePort();
  let proc: Subprocess | undefined;
  const cli = async (...args: string[]) => {
    const run = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(run.stdout).text();
    await run.exited;
    return out.trim();
  };
  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      proc = undefined;
    },
    async start() {
      proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if ((await cli("PING").catch(() => "")) === "PONG") return;
        await Bun.sleep(50);
      }
      throw new Error(`redis-server did not start on port ${port}`);
    },
    cli,
    async send(command, ...args) {
      const client = new RedisClient(`redis://127.0.0.1:${port}`);
      try {
        return await client.send(command, args);
      } finally {
        client.close();
      }
    },
  };
  await redis.start();
  return redis;
}
