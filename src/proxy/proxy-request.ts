// A client request from resolution to response: order the chain by what the router remembers,
// walk it (recording each outcome), then answer with the JSON body or the committed stream,
// and write the one log line when it is over.
import { BitRouterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Usage } from "../protocols/ir.ts";
import { abortableSleep, ClientGone, walkChain, type WalkResult } from "../routing/failover.ts";
import { orderTargets, type Target } from "../routing/order.ts";
import type { Resolution } from "../routing/resolve.ts";
import type { Settings } from "../sources/registry.ts";
import { outcomeOf } from "../state/health.ts";
import type { TargetState } from "../state/target-state.ts";
import type { PlanObserver } from "../windows/observe.ts";
import type { RequestEvent, RequestEventSink } from "../request-event.ts";
import { accountKey } from "../state/target-state.ts";
import { bindingWindow } from "../windows/window.ts";
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
  /** Health, windows, affinity: read to order the chain, written with each outcome. */
  state: TargetState;
  plans: PlanObserver;
  now?: () => number;
  /** Told once per request, when its answer is over (the ledger, the metrics). */
  onFinished?: RequestEventSink;
  /** A client stream opened (+1) or ended (-1). */
  onStream?: (delta: 1 | -1) => void;
  /** The client's connection: aborts when it goes away. */
  signal: AbortSignal;
  /** Renders a final error as the client protocol's terminal stream frame. */
  errorFrame: (error: BitRouterError) => string;
  /** The client protocol's keep-alive (Dialect.keepAlive). */
  keepAliveFrame: string;
}

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };

export async function proxyRequest(inbound: InboundRequest, resolution: Resolution, deps: ProxyDeps): Promise<Response> {
  const started = performance.now();
  const now = deps.now ?? Date.now;
  const { state, settings } = deps;
  const arrived = now();
  const attempts = { count: 0, waitedMs: 0 };
  const failedAttempts: RequestEvent["failed"] = [];
  const targets = orderTargets(resolution.candidates, { state, settings, now: arrived, session: inbound.session });
  const attempt = createAttempt(inbound, {
    upstream: deps.upstream,
    maxRetryWaitMs: settings.maxRetryWaitMs,
    subscriptions: deps.subscriptions,
    log: deps.log,
    plans: deps.plans,
    onWait: (ms) => {
      attempts.waitedMs += ms;
    },
  });
  const walk = walkChain(
    targets,
    async (target, signal) => {
      attempts.count++;
      if (target.probe) state.claimProbe(target.key);
      const result = await attempt(target, signal);
      if (result.ok) served(target);
      else if (settings.health.enabled) {
        const outcome = outcomeOf(result.failure, now());
        if (outcome) state.record(target.key, outcome, settings.health);
      }
      return result;
    },
    {
      requested: inbound.requestedModel,
      signal: deps.signal,
      onFailure: (failed) => {
        failedAttempts.push({ provider: failed.provider, model: failed.model, ...(failed.account !== undefined ? { account: failed.account } : {}), status: failed.status, reason: failed.reason });
        deps.log.warn("attempt failed", { request_id: inbound.requestId, provider: failed.provider, model: failed.model, account: failed.account, status: failed.status, reason: failed.reason });
      },
      // A pause before a retry is time spent on the source's account, not BitRouter's.
      sleep: async (ms, signal) => {
        const start = performance.now();
        await abortableSleep(ms, signal);
        attempts.waitedMs += performance.now() - start;
      },
      // A target that has just started cooling is not retried unless it is due back within the wait.
      mayRetry: (target, waitMs) => {
        const health = state.get(target.key);
        return health?.state !== "cooling" || (health.until ?? 0) <= now() + waitMs;
      },
    },
  );

  /** A success: the target is healthy again, and the conversation stays on its account. */
  function served(target: Target): void {
    if (settings.health.enabled && state.get(target.key)) state.record(target.key, { kind: "success" }, settings.health);
    if (inbound.session !== undefined && target.source.accounts.length > 1) state.bind(inbound.session, target.source.id, target.account.label, settings.sessionTtlMs);
  }

  const demoted = targets.filter((t) => t.demoted).map((t) => `${t.source.id}:${t.upstreamModel}@${t.account.label} (${t.demoted!.reason})`);
  const finished = (fields: { candidate?: Target; status: number; usage?: Usage | null; ttftMs?: number; error?: string; waitedBeforeFirstByteMs?: number }) => {
    const durationMs = performance.now() - started;
    if (deps.onFinished) {
      const target = fields.candidate;
      const waited = fields.waitedBeforeFirstByteMs ?? attempts.waitedMs;
      deps.onFinished({
        requestId: inbound.requestId,
        at: arrived,
        protocol: inbound.protocol,
        requestedModel: inbound.requestedModel,
        stream: inbound.stream,
        status: fields.status,
        attempts: attempts.count,
        failed: failedAttempts,
        served: target && {
          provider: target.source.id,
          kind: target.source.kind,
          account: target.account.label,
          upstreamModel: target.upstreamModel,
          declared: target.model !== undefined,
          window: target.source.plan ? windowLabel(state, target, now()) : undefined,
        },
        ttftMs: fields.ttftMs,
        durationMs,
        overheadMs: fields.ttftMs === undefined ? undefined : Math.max(0, fields.ttftMs - waited),
        usage: fields.usage ?? null,
      });
    }
    deps.log.info("request finished", {
      request_id: inbound.requestId,
      model: inbound.requestedModel,
      provider: fields.candidate?.source.id,
      upstream_model: fields.candidate?.upstreamModel,
      account: fields.candidate?.account.label,
      stream: inbound.stream,
      status: fields.status,
      attempts: attempts.count,
      ttft_ms: fields.ttftMs === undefined ? undefined : Math.round(fields.ttftMs),
      duration_ms: Math.round(durationMs),
      input_tokens: fields.usage?.inputTokens,
      output_tokens: fields.usage?.outputTokens,
      demoted: demoted.length > 0 ? demoted.join(", ") : undefined,
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
  let waitedBeforeFirstByteMs: number | undefined;
  let candidate: Target | undefined;
  const pending: Promise<OpenStream> = walk.then((r) => {
    ttftMs = performance.now() - started;
    waitedBeforeFirstByteMs = attempts.waitedMs;
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
      keepAliveFrame: deps.keepAliveFrame,
      early: first === "early",
      errorFrame: deps.errorFrame,
      onDone: (outcome, relay) => {
        deps.onStream?.(-1);
        if (candidate?.source.plan && relay?.limits) deps.plans.event(candidate, relay.limits);
        // A stream the source broke after its first token still counts against it.
        if (candidate && settings.health.enabled && outcome.status !== 200 && outcome.status !== 499) {
          state.record(candidate.key, { kind: "failed", reason: outcome.error ?? `stream failed (${outcome.status})` }, settings.health);
        }
        finished({ candidate, status: outcome.status, usage: relay?.usage, ttftMs, error: outcome.error, waitedBeforeFirstByteMs });
      },
    });
    deps.onStream?.(1);
    return new Response(body, { status: 200, headers });
  } catch (err) {
    // Nothing may be left running when the answer cannot go out: the upstream is cancelled.
    pending.then((stream) => stream.response.cancel("failed"), () => {});
    throw err;
  }
}

/** The plan's binding window when it answered, as `5h@<reset ISO>`: one name per window period. */
function windowLabel(state: TargetState, target: Target, at: number): string | undefined {
  const plan = state.windows(accountKey(target.source.id, target.account.label));
  const window = plan ? bindingWindow(plan, at) : undefined;
  if (!window) return undefined;
  return window.resetsAt === null ? window.name : `${window.name}@${new Date(window.resetsAt).toISOString()}`;
}

function setServedBy(headers: Headers, target: Target): void {
  headers.set("x-bitrouter-provider", headerValue(target.source.id));
  headers.set("x-bitrouter-model", headerValue(target.upstreamModel));
  headers.set("x-bitrouter-account", headerValue(target.account.label));
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
