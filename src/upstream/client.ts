// Every upstream HTTP call goes through here. It ties the call to the client's abort signal,
// bounds the wait for headers and every silence in the body by read_secs (an idle watchdog,
// never a whole-request AbortSignal.timeout, which would kill healthy streams), bounds the
// connect by connect_secs and the whole call by total_secs, and disables Bun's own timer.
import type { Timeouts } from "../sources/registry.ts";

export type FailureKind = "connect" | "reset" | "timeout" | "client_gone" | "transport";

/** A transport-level failure of one upstream call, before or during its body. */
export class UpstreamFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly phase: "headers" | "body",
  ) {
    super(message);
    this.name = "UpstreamFailure";
  }
}

export interface UpstreamCall {
  url: string;
  method?: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  timeouts: Timeouts;
  /** The client's signal: when it aborts, the upstream call is cancelled. */
  signal?: AbortSignal;
}

export type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array };

/** A response whose body is read through a watchdog. Call `cancel()` when abandoning it. */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  read(): Promise<ReadResult>;
  /** Every chunk the body has ready (at least one), or null once it has ended. Fewer awaits than read(). */
  readBatch(): Promise<Uint8Array[] | null>;
  /** The whole body as text; with `limit`, at most that many bytes (the rest is dropped). */
  text(limit?: number): Promise<string>;
  cancel(reason?: string): void;
}

export type FetchLike = (input: string, init: RequestInit & { timeout?: boolean | number; decompress?: boolean }) => Promise<Response>;

/** Resolves once a TCP connection to `url`'s host could be opened, rejects otherwise. */
export type ConnectProbe = (url: URL, timeoutMs: number) => Promise<void>;

export interface UpstreamClientDeps {
  fetch: FetchLike;
  /** Used to tell a slow answer from an unreachable host once connect_secs has passed. */
  probe?: ConnectProbe;
  env?: Record<string, string | undefined>;
}

export interface UpstreamClient {
  send(call: UpstreamCall): Promise<UpstreamResponse>;
}

export function createUpstreamClient(deps: UpstreamClientDeps): UpstreamClient {
  return {
    async send(call) {
      const controller = new AbortController();
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      let headersIn = false;
      const abort = (failure: UpstreamFailure) => {
        clearTimeout(watchdog);
        if (!controller.signal.aborted) controller.abort(failure);
      };
      const onClientAbort = () => abort(new UpstreamFailure("client_gone", "client closed the connection", "headers"));
      if (call.signal?.aborted) throw new UpstreamFailure("client_gone", "client closed the connection", "headers");
      call.signal?.addEventListener("abort", onClientAbort, { once: true });

      const timers: ReturnType<typeof setTimeout>[] = [];
      const { connectMs, readMs, totalMs } = call.timeouts;
      if (totalMs !== null) timers.push(setTimeout(() => abort(new UpstreamFailure("timeout", `no complete answer within total_secs (${totalMs / 1000}s)`, "body")), totalMs));
      const headerTimers = [
        setTimeout(() => abort(new UpstreamFailure("timeout", `no response headers within read_secs (${readMs / 1000}s)`, "headers")), readMs),
      ];
      if (deps.probe) {
        const probe = deps.probe;
        // Only a slow call pays for a probe: fast answers clear this timer first.
        headerTimers.push(
          setTimeout(() => {
            const url = new URL(call.url);
            if (usesProxy(url, deps.env ?? {})) return;
            // A probe that fails after the headers came in is moot (the connection plainly worked).
            probe(url, connectMs).catch((err: Error) => headersIn || abort(new UpstreamFailure("connect", `cannot connect to ${url.host} within connect_secs (${connectMs / 1000}s): ${err.message}`, "headers")));
          }, connectMs),
        );
      }
      const cleanup = () => {
        for (const t of [...timers, ...headerTimers]) clearTimeout(t);
        call.signal?.removeEventListener("abort", onClientAbort);
      };

      let response: Response;
      try {
        response = await deps.fetch(call.url, {
          method: call.method ?? "POST",
          headers: call.headers,
          body: call.body,
          signal: controller.signal,
          redirect: "manual",
          timeout: false,
          decompress: true,
        });
      } catch (err) {
        cleanup();
        throw toFailure(err, controller.signal, "headers");
      } finally {
        headersIn = true;
        for (const t of headerTimers) clearTimeout(t);
      }

      // The watchdog counts silence only while a read is waiting: a slow client that is not
      // reading (backpressure) is not an upstream silence.
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      let readingSince: number | null = null;
      let finished = false;
      const armWatchdog = (delay: number) => {
        watchdog = setTimeout(() => {
          const waited = readingSince === null ? 0 : performance.now() - readingSince;
          if (waited >= readMs - 5) abort(new UpstreamFailure("timeout", `upstream silent for more than read_secs (${readMs / 1000}s)`, "body"));
          else armWatchdog(readMs - waited);
        }, Math.max(1, delay));
      };
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        cleanup();
      };
      if (response.body) armWatchdog(readMs);
      else finish();

      /** Waits on `pending` as one read: the watchdog times it, failures become UpstreamFailure. */
      const watched = async <T>(pending: () => Promise<T>, done: (value: T) => boolean): Promise<T> => {
        readingSince = performance.now();
        try {
          const value = await pending();
          if (done(value)) finish();
          return value;
        } catch (err) {
          finish();
          throw toFailure(err, controller.signal, "body");
        } finally {
          readingSince = null;
        }
      };
      const read = async (): Promise<ReadResult> => {
        if (!response.body) return { done: true, value: undefined };
        const current = (reader ??= response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>);
        return watched(() => current.read() as Promise<ReadResult>, (r) => r.done);
      };
      const readBatch = async (): Promise<Uint8Array[] | null> => {
        if (!response.body) return null;
        const current = (reader ??= response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>);
        // Bun's readMany: everything already queued, in one go.
        const result = await watched(async () => current.readMany(), (r) => r.done);
        return result.done && result.value.length === 0 ? null : (result.value as Uint8Array[]);
      };

      const upstreamResponse: UpstreamResponse = {
        status: response.status,
        headers: response.headers,
        read,
        readBatch,
        async text(limit) {
          // A whole body: Bun's native read, bounded by read_secs as one wait.
          if (limit === undefined) return watched(() => response.text(), () => true);
          const decoder = new TextDecoder();
          let out = "";
          let size = 0;
          for (;;) {
            const { done, value } = await read();
            if (done) break;
            size += value.byteLength;
            out += decoder.decode(value, { stream: true });
            if (size >= limit) {
              upstreamResponse.cancel("body over limit");
              break;
            }
          }
          return out + decoder.decode();
        },
        cancel(reason = "abandoned") {
          finish();
          if (reader) reader.cancel(reason).catch(() => {});
          else response.body?.cancel(reason).catch(() => {});
          if (!controller.signal.aborted) controller.abort(new UpstreamFailure("client_gone", reason, "body"));
        },
      };
      return upstreamResponse;
    },
  };
}

function toFailure(err: unknown, signal: AbortSignal, phase: "headers" | "body"): UpstreamFailure {
  if (signal.aborted && signal.reason instanceof UpstreamFailure) {
    const reason = signal.reason;
    return reason.phase === phase ? reason : new UpstreamFailure(reason.kind, reason.message, phase);
  }
  if (err instanceof UpstreamFailure) return err;
  const code = (err as { code?: string }).code ?? "";
  const message = (err as Error).message ?? String(err);
  if (/ECONNRESET|EPIPE|socket.*closed|connection.*closed|terminated/i.test(`${code} ${message}`)) {
    return new UpstreamFailure("reset", `connection reset${phase === "body" ? " mid-body" : " before headers"} (${code || message})`, phase);
  }
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ConnectionRefused|FailedToOpenSocket|ETIMEDOUT|UNABLE_TO|CERT|DNS/i.test(`${code} ${message}`)) {
    return new UpstreamFailure("connect", `cannot connect (${code || message})`, phase);
  }
  return new UpstreamFailure("transport", `${code ? `${code}: ` : ""}${message}`, phase);
}

/** Whether Bun's fetch would send this URL through an HTTP proxy from the environment. */
function usesProxy(url: URL, env: Record<string, string | undefined>): boolean {
  const proxy = url.protocol === "https:" ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.ALL_PROXY) : (env.HTTP_PROXY ?? env.http_proxy ?? env.ALL_PROXY);
  if (!proxy) return false;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  const host = url.hostname.toLowerCase();
  return !noProxy.some((entry) => entry === "*" || host === entry || host.endsWith(entry.startsWith(".") ? entry : `.${entry}`));
}

/** A TCP connect to the URL's host and port, bounded by `timeoutMs`. */
export const tcpConnectProbe: ConnectProbe = (url, timeoutMs) =>
  new Promise<void>((resolve, reject) => {
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    const timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
    Bun.connect({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port,
      socket: {
        open(socket) {
          clearTimeout(timer);
          socket.end();
          resolve();
        },
        data() {},
        connectError(_socket, error) {
          clearTimeout(timer);
          reject(error);
        },
      },
    }).catch((error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
