// The one place that calls Bun.serve.
import type { Server } from "bun";
import type { Hono } from "hono";
import type { AppEnv } from "./app.ts";

export interface ServeOptions {
  host: string;
  port: number;
  /** Bun's per-connection idle timer, seconds (default 60). */
  idleTimeoutSecs?: number;
}

export interface RunningServer {
  url: URL;
  /** Stop accepting; let in-flight requests finish for up to `graceMs`, then cut the rest. */
  stop(graceMs: number): Promise<void>;
}

export function startServer(app: Hono<AppEnv>, options: ServeOptions): RunningServer {
  const server: Server<undefined> = Bun.serve({
    hostname: options.host,
    port: options.port,
    // Idle keep-alive and slow clients are reclaimed after a minute; inference routes turn
    // the timer off for their own request (disableIdleTimeout) and rely on our deadlines.
    idleTimeout: options.idleTimeoutSecs ?? 60,
    development: false,
    // Our own limit (server/request-body.ts) answers every oversized body, declared or
    // chunked, with a JSON error in the route's protocol; Bun's own would be a bare 413.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (request, bunServer) => app.fetch(request, { server: bunServer }),
  });
  const url = new URL(server.url.href);
  return {
    url,
    async stop(graceMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const graceful = server.stop(false);
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([graceful, deadline]);
      clearTimeout(timer);
      await server.stop(true);
    },
  };
}
