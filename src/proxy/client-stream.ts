// The commit gate and the pump. Upstream events are held until the first content token
// (so a failed attempt never leaks to the client and failover stays invisible); after that
// they are relayed as they arrive, pulled by the client so backpressure holds. A failure after
// commit ends the stream with the protocol's own error frame, never a clean truncated end.
import { BitRouterError } from "../errors.ts";
import type { StreamRelay } from "../protocols/relay.ts";
import { ClientGone } from "../routing/failover.ts";
import type { ReadResult, UpstreamFailure, UpstreamResponse } from "../upstream/client.ts";
import { KEEPALIVE_FRAME, SseSplitter } from "../upstream/sse.ts";

export interface OpenStream {
  response: UpstreamResponse;
  relay: StreamRelay;
  splitter: SseSplitter;
}

export type GateResult = { ok: true; stream: OpenStream } | { ok: false; reason: string; timeout: boolean };

/** Read until the relay commits, fails, or the stream ends. */
export async function commitGate(response: UpstreamResponse, relay: StreamRelay): Promise<GateResult> {
  const splitter = new SseSplitter();
  for (;;) {
    let chunk: ReadResult;
    try {
      chunk = await response.read();
    } catch (err) {
      const failure = err as UpstreamFailure;
      return { ok: false, reason: `${failure.message} (before the first token)`, timeout: failure.kind === "timeout" };
    }
    if (chunk.done) {
      const last = splitter.flush();
      if (last !== null) relay.push(last);
      if (!relay.failure) relay.end();
      if (relay.committed) return { ok: true, stream: { response, relay, splitter } };
      return { ok: false, reason: relay.failure ?? "upstream stream ended before its first token", timeout: false };
    }
    for (const block of splitter.push(chunk.value)) {
      relay.push(block);
      if (relay.failure) break;
    }
    if (relay.failure && !relay.committed) {
      response.cancel("failed before first token");
      return { ok: false, reason: relay.failure, timeout: false };
    }
    if (relay.committed) return { ok: true, stream: { response, relay, splitter } };
  }
}

export interface StreamOutcome {
  /** 200 for a complete stream, 499 when the client left, else the failure's status. */
  status: number;
  error?: string;
}

export interface ClientStreamOptions {
  keepaliveMs: number;
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
 */
export function clientStream(pending: Promise<OpenStream>, options: ClientStreamOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let open: OpenStream | undefined;
  let closed = false;
  let lastWrite = performance.now();
  let keepalive: ReturnType<typeof setInterval> | undefined;

  const finish = (controller: ReadableStreamDefaultController<Uint8Array>, outcome: StreamOutcome, tail = "") => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    if (tail) controller.enqueue(encoder.encode(tail));
    controller.close();
    options.onDone(outcome, open?.relay);
  };
  const write = (controller: ReadableStreamDefaultController<Uint8Array>, text: string) => {
    if (text === "" || closed) return;
    lastWrite = performance.now();
    controller.enqueue(encoder.encode(text));
  };

  return new ReadableStream<Uint8Array>({
    async start(controller) {
      if (options.early) write(controller, KEEPALIVE_FRAME);
      keepalive = setInterval(
        () => {
          if (!closed && performance.now() - lastWrite >= options.keepaliveMs) write(controller, KEEPALIVE_FRAME);
        },
        Math.max(50, Math.floor(options.keepaliveMs / 4)),
      );
      try {
        open = await pending;
      } catch (err) {
        if (err instanceof ClientGone) return finish(controller, { status: 499, error: err.message });
        const error = err instanceof BitRouterError ? err : new BitRouterError(502, "upstream_error", "upstream failed", { code: "upstream_failed" });
        finish(controller, { status: error.status, error: error.message }, options.errorFrame(error));
        return;
      }
      if (closed) {
        open.response.cancel("client closed the connection");
        return;
      }
      write(controller, open.relay.take());
      if (open.relay.failure) {
        // It failed in the same read that committed it (content, then an error).
        open.response.cancel("failed mid-stream");
        finish(controller, failureOutcome(open.relay.failure), open.relay.errorFrame(streamError(open.relay.failure)));
      } else if (open.relay.complete) {
        open.response.cancel("complete");
        finish(controller, { status: 200 });
      }
    },

    async pull(controller) {
      if (closed || !open) return;
      const { response, relay, splitter } = open;
      // Read until there is something to hand over, so each pull makes progress.
      for (;;) {
        let chunk: ReadResult;
        try {
          chunk = await response.read();
        } catch (err) {
          const failure = err as UpstreamFailure;
          if (failure.kind === "client_gone") return finish(controller, { status: 499, error: "client closed the connection" });
          write(controller, relay.take());
          return finish(controller, failureOutcome(failure.message), relay.errorFrame(streamError(failure.message, failure.kind === "timeout")));
        }
        if (chunk.done) {
          const last = splitter.flush();
          if (last !== null) relay.push(last);
          if (!relay.failure) relay.end();
          write(controller, relay.take());
          if (relay.failure) return finish(controller, failureOutcome(relay.failure), relay.errorFrame(streamError(relay.failure)));
          return finish(controller, { status: 200 });
        }
        for (const block of splitter.push(chunk.value)) {
          relay.push(block);
          if (relay.failure || relay.complete) break;
        }
        const frames = relay.take();
        if (relay.failure) {
          write(controller, frames);
          response.cancel("failed mid-stream");
          return finish(controller, failureOutcome(relay.failure), relay.errorFrame(streamError(relay.failure)));
        }
        if (relay.complete) {
          write(controller, frames);
          response.cancel("complete");
          return finish(controller, { status: 200 });
        }
        if (frames !== "") return write(controller, frames);
      }
    },

    cancel() {
      // The client went away: stop the upstream at once.
      closed = true;
      clearInterval(keepalive);
      open?.response.cancel("client closed the connection");
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
