// The commit gate and the pump. Upstream events are held until the first content token
// (so a failed attempt never leaks to the client and failover stays invisible); after that
// they are relayed as they arrive, with backpressure from the client. A failure after commit
// ends the stream with the protocol's own error frame, never a clean truncated end.
import { BitRouterError, messageOf } from "../errors.ts";
import { scrubSecrets } from "../log.ts";
import { EMPTY_STREAM, type Frames, type StreamRelay } from "../protocols/relay.ts";
import { ClientGone } from "../routing/failover.ts";
import type { UpstreamFailure, UpstreamResponse } from "../upstream/client.ts";

export interface OpenStream {
  response: UpstreamResponse;
  relay: StreamRelay;
  /** The source's key, kept out of any failure text that reaches the client or the log. */
  secret?: string;
}

export type GateResult = { ok: true; stream: OpenStream } | { ok: false; reason: string; timeout: boolean };

/** Read until the relay commits, fails, or the stream ends. */
export async function commitGate(response: UpstreamResponse, relay: StreamRelay): Promise<GateResult> {
  for (;;) {
    let chunks: Uint8Array[] | null;
    try {
      chunks = await response.readBatch();
    } catch (err) {
      const failure = err as UpstreamFailure;
      return { ok: false, reason: `${failure.message} (before the first token)`, timeout: failure.kind === "timeout" };
    }
    if (chunks === null) {
      relay.end();
      if (relay.committed) return { ok: true, stream: { response, relay } };
      return { ok: false, reason: relay.failure ?? EMPTY_STREAM, timeout: false };
    }
    try {
      for (const chunk of chunks) relay.push(chunk);
    } catch (err) {
      // A decoder tripping over an event it did not expect is this source's fault, not the request's.
      response.cancel("malformed event");
      return { ok: false, reason: `malformed event from upstream: ${messageOf(err)}`, timeout: false };
    }
    if (relay.failure && !relay.committed) {
      response.cancel("failed before first token");
      return { ok: false, reason: relay.failure, timeout: false };
    }
    if (relay.committed) return { ok: true, stream: { response, relay } };
  }
}

export interface StreamOutcome {
  /** 200 for a complete stream, 499 when the client left, else the failure's status. */
  status: number;
  error?: string;
}

export interface ClientStreamOptions {
  keepaliveMs: number;
  /** The client protocol's way to fill a silence (Dialect.keepAlive). */
  keepAliveFrame: string;
  /** Headers went out before the commit: start with a keep-alive so the client sees bytes. */
  early: boolean;
  /** Frame for failures that happen before anything could commit (early-headers mode). */
  errorFrame: (error: BitRouterError) => string;
  onDone: (outcome: StreamOutcome, relay: StreamRelay | undefined) => void;
}

/**
 * The client's body. `pending` resolves to the committed stream (already resolved in the
 * usual case; still walking the chain when headers went out early) or rejects with the
 * chain's final error. Keep-alive comments fill silences longer than `keepaliveMs`.
 *
 * A Bun direct stream: frames are written to the socket as they are, with no queue in between,
 * and a write that reports backpressure is awaited before more is read from the source.
 */
export function clientStream(pending: Promise<OpenStream>, options: ClientStreamOptions): ReadableStream<Uint8Array> {
  let open: OpenStream | undefined;
  let closed = false;
  let lastWrite = performance.now();
  let keepalive: ReturnType<typeof setInterval> | undefined;
  let sink: ReadableStreamDirectController | undefined;

  const finish = (outcome: StreamOutcome, tail: Frames = []) => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const frame of tail) sink?.write(frame);
    sink?.close();
    options.onDone(outcome, open?.relay);
  };
  /** Writes now; true when the client has room for more (or a promise of it), false once it is gone. */
  const write = (frames: Frames): boolean | Promise<boolean> => {
    if (closed || !sink) return !closed;
    let pending: Promise<number> | undefined;
    for (const frame of frames) {
      const written = sink.write(frame);
      if (written === 0) return false;
      if (typeof written !== "number") pending = written;
    }
    if (frames.length > 0) {
      lastWrite = performance.now();
      sink.flush();
    }
    return pending ? pending.then((n) => n > 0) : true;
  };
  const clientGone = () => {
    open?.response.cancel("client closed the connection");
    finish({ status: 499, error: "client closed the connection" });
  };

  const pump = async () => {
    try {
      open = await pending;
    } catch (err) {
      if (err instanceof ClientGone) return finish({ status: 499, error: err.message });
      const error = err instanceof BitRouterError ? err : new BitRouterError(502, "upstream_error", "upstream failed", { code: "upstream_failed" });
      return finish({ status: error.status, error: error.message }, [options.errorFrame(error)]);
    }
    if (closed) return open.response.cancel("client closed the connection");
    try {
      await relayLoop(open);
    } catch (err) {
      // Never leave the client hanging on an open socket: end with the protocol's error frame.
      open.response.cancel("failed mid-stream");
      failed(open, `malformed event from upstream: ${messageOf(err)}`, []);
    }
  };

  /** Ends a committed stream with the protocol's error frame after `tail`. */
  const failed = ({ relay, secret }: OpenStream, reason: string, tail: Frames, timeout = false) => {
    const clean = scrubSecrets(reason, secret);
    finish(failureOutcome(clean), [...tail, relay.errorFrame(streamError(clean, timeout))]);
  };

  const relayLoop = async (stream: OpenStream): Promise<void> => {
    const { response, relay } = stream;
    for (;;) {
      const frames = relay.take();
      if (relay.failure) {
        response.cancel("failed mid-stream");
        return failed(stream, relay.failure, frames);
      }
      if (relay.complete) {
        response.cancel("complete");
        return finish({ status: 200 }, frames);
      }
      const written = write(frames);
      if (written === false || (written !== true && !(await written))) return clientGone();

      let chunks: Uint8Array[] | null;
      try {
        chunks = await response.readBatch();
      } catch (err) {
        const failure = err as UpstreamFailure;
        if (failure.kind === "client_gone") return finish({ status: 499, error: "client closed the connection" });
        return failed(stream, failure.message, relay.take(), failure.kind === "timeout");
      }
      if (chunks === null) {
        relay.end();
        const tail = relay.take();
        if (relay.failure) return failed(stream, relay.failure, tail);
        return finish({ status: 200 }, tail);
      }
      for (const chunk of chunks) relay.push(chunk);
    }
  };

  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      sink = controller;
      if (options.early) write([options.keepAliveFrame]);
      keepalive = setInterval(
        () => {
          if (!closed && performance.now() - lastWrite >= options.keepaliveMs) write([options.keepAliveFrame]);
        },
        Math.max(50, Math.floor(options.keepaliveMs / 4)),
      );
      try {
        await pump();
      } finally {
        clearInterval(keepalive);
      }
    },
    cancel() {
      // The client went away: stop the upstream at once.
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      if (open) open.response.cancel("client closed the connection");
      // Gone before the first read: the chain may still be walking; stop whatever it commits to.
      else pending.then((late) => late.response.cancel("client closed the connection"), () => {});
      options.onDone({ status: 499, error: "client closed the connection" }, open?.relay);
    },
  });
}

function streamError(reason: string, timeout = false): BitRouterError {
  return new BitRouterError(timeout ? 504 : 502, "upstream_error", `the stream failed after it started: ${reason}`, {
    code: timeout ? "upstream_timeout" : "stream_interrupted",
  });
}

function failureOutcome(reason: string): StreamOutcome {
  return { status: 502, error: reason };
}
