// A client request from resolution to response: walk the chain, then answer with the JSON
// body or the committed stream, and write the one log line when it is over.
import { BitRouterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Usage } from "../protocols/ir.ts";
import { ClientGone, walkChain, type WalkResult } from "../routing/failover.ts";
import type { Candidate, Resolution } from "../routing/resolve.ts";
import type { Settings } from "../sources/registry.ts";
import type { SubscriptionAuth } from "../subscriptions/tokens.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { passedResponseHeaders } from "../upstream/headers.ts";
import { type Committed, createAttempt } from "./attempt.ts";
import { clientStream, type OpenStream } from "./client-stream.ts";
import type { InboundRequest } from "./exchange.ts";

export interface ProxyDeps {
  upstream: UpstreamClient;
  subscriptions?: SubscriptionAuth;
  log: Logger;
  settings: Settings;
  /** The client's connection: aborts when it goes away. */
  signal: AbortSignal;
  /** Renders a final error as the client protocol's terminal stream frame. */
  errorFrame: (error: BitRouterError) => string;
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

export async function proxyRequest(inbound: InboundRequest, resolution: Resolution, deps: ProxyDeps): Promise<Response> {
  const started = performance.now();
  const attempts = { count: 0 };
  const attempt = createAttempt(inbound, { upstream: deps.upstream, maxRetryWaitMs: deps.settings.maxRetryWaitMs, subscriptions: deps.subscriptions, log: deps.log });
  const walk = walkChain(
    resolution.candidates,
    async (candidate, signal) => {
      attempts.count++;
      return attempt(candidate, signal);
    },
    {
      requested: inbound.requestedModel,
      signal: deps.signal,
      onFailure: (failed) =>
        deps.log.warn("attempt failed", { request_id: inbound.requestId, provider: failed.provider, model: failed.model, status: failed.status, reason: failed.reason }),
    },
  );

  const finished = (fields: { candidate?: Candidate; status: number; usage?: Usage | null; ttftMs?: number; error?: string }) => {
    deps.log.info("request finished", {
      request_id: inbound.requestId,
      model: inbound.requestedModel,
      provider: fields.candidate?.source.id,
      upstream_model: fields.candidate?.upstreamModel,
      stream: inbound.stream,
      status: fields.status,
      attempts: attempts.count,
      ttft_ms: fields.ttftMs === undefined ? undefined : Math.round(fields.ttftMs),
      duration_ms: Math.round(performance.now() - started),
      input_tokens: fields.usage?.inputTokens,
      output_tokens: fields.usage?.outputTokens,
      error: fields.error,
    });
  };

  if (!inbound.stream) {
    let result: WalkResult<Committed>;
    try {
      result = await walk;
    } catch (err) {
      finished({ status: statusOf(err), error: (err as Error).message });
      throw err;
    }
    if (result.value.kind !== "json") throw new Error("a non-streaming request committed a stream");
    const { answer, upstreamHeaders } = result.value;
    finished({ candidate: result.candidate, status: 200, usage: answer.usage, ttftMs: performance.now() - started });
    const headers = passedResponseHeaders(upstreamHeaders, new Headers({ "content-type": "application/json" }));
    setServedBy(headers, result.candidate);
    return new Response(answer.body, { status: 200, headers });
  }

  // Streams: wait for the commit, but not forever before answering at all. After
  // `keepaliveMs` the 200 goes out with keep-alive comments while the chain is still walked;
  // no event has been sent, so failover stays invisible (only a final error becomes a frame).
  let early: ReturnType<typeof setTimeout> | undefined;
  const headersDue = new Promise<"early">((resolve) => {
    early = setTimeout(() => resolve("early"), deps.settings.keepaliveMs);
  });
  const first = await Promise.race([walk.then((r) => ({ result: r }), (err: unknown) => ({ error: err })), headersDue]);
  clearTimeout(early);

  let ttftMs: number | undefined;
  let candidate: Candidate | undefined;
  const pending: Promise<OpenStream> = walk.then((r) => {
    ttftMs = performance.now() - started;
    candidate = r.candidate;
    if (r.value.kind !== "stream") throw new Error("a streaming request committed a JSON body");
    return r.value.stream;
  });
  pending.catch(() => {});

  if (first !== "early" && "error" in first) {
    finished({ status: statusOf(first.error), error: (first.error as Error).message });
    throw first.error;
  }

  try {
    const headers = new Headers(SSE_HEADERS);
    if (first !== "early") {
      const committed = first.result;
      passedResponseHeaders(committed.value.upstreamHeaders, headers);
      setServedBy(headers, committed.candidate);
    }
    const body = clientStream(pending, {
      keepaliveMs: deps.settings.keepaliveMs,
      early: first === "early",
      errorFrame: deps.errorFrame,
      onDone: (outcome, relay) => finished({ candidate, status: outcome.status, usage: relay?.usage, ttftMs, error: outcome.error }),
    });
    return new Response(body, { status: 200, headers });
  } catch (err) {
    // Nothing may be left running when the answer cannot go out: the upstream is cancelled.
    pending.then((stream) => stream.response.cancel("failed"), () => {});
    throw err;
  }
}

function setServedBy(headers: Headers, candidate: Candidate): void {
  headers.set("x-bitrouter-provider", headerValue(candidate.source.id));
  headers.set("x-bitrouter-model", headerValue(candidate.upstreamModel));
}

/**
 * A value a client chose (a pinned model name) made safe for a response header: printable
 * ASCII as it is, anything else (non-ASCII, CR LF, NUL) percent-encoded, and bounded, so that
 * an answer the source already gave can never fail on its way out.
 */
export function headerValue(text: string): string {
  const safe = /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
  return safe.length > 256 ? `${safe.slice(0, 253)}...` : safe;
}

function statusOf(err: unknown): number {
  if (err instanceof ClientGone) return 499;
  return err instanceof BitRouterError ? err.status : 500;
}
