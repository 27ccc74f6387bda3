// One attempt at one candidate: send, read the status, and either pass the commit gate
// (streams) or read a usable body (JSON). Anything else becomes a classified failure.
import { BitRouterError, isTooDeep, messageOf, tooDeep } from "../errors.ts";
import { type Logger, scrubSecrets } from "../log.ts";
import type { Usage } from "../protocols/ir.ts";
import { type AttemptFailure, classifyFailure, classifyStatus } from "../routing/classify.ts";
import type { Attempt } from "../routing/failover.ts";
import type { Target } from "../routing/order.ts";
import type { PlanObserver } from "../windows/observe.ts";
import { type UpstreamClient, UpstreamFailure, type UpstreamResponse } from "../upstream/client.ts";
import type { OAuthCredential } from "../subscriptions/credentials.ts";
import { shapeForPlan } from "../subscriptions/shaping.ts";
import type { SubscriptionAuth } from "../subscriptions/tokens.ts";
import { commitGate, type OpenStream } from "./client-stream.ts";
import { type Exchange, type InboundRequest, planExchange, upstreamMessage } from "./exchange.ts";

export interface JsonAnswer {
  body: string;
  usage: Usage | null;
}

export type Committed = { kind: "stream"; stream: OpenStream; upstreamHeaders: Headers } | { kind: "json"; answer: JsonAnswer; upstreamHeaders: Headers };

const ERROR_BODY_LIMIT = 64 * 1024;

export interface AttemptDeps {
  upstream: UpstreamClient;
  maxRetryWaitMs: number;
  /** Tokens for sources that run on a subscription login. */
  subscriptions?: SubscriptionAuth;
  log?: Logger;
  /** Reads the plan's quota windows off every answer of a plan source. */
  plans?: PlanObserver;
  /** Told the time spent waiting on the source (sending, headers, the body or the first token), ms. */
  onWait?: (ms: number) => void;
}

export function createAttempt(inbound: InboundRequest, deps: AttemptDeps): Attempt<Committed> {
  return async (candidate, signal) => {
    let exchange: Exchange;
    try {
      exchange = planExchange(inbound, candidate);
    } catch (err) {
      if (isTooDeep(err)) return tooDeepFailure();
      if (!(err instanceof BitRouterError)) throw err;
      // A field this source's protocol cannot express: another candidate may speak the client's
      // protocol; when none does, this 400 is the answer (walkChain). The protocol not
      // available → next; a request that is wrong for every source → surface.
      if (err.code === "unsupported_parameter") return { ok: false, failure: { status: err.status, kind: "unsupported", reason: err.message, action: "next" }, surfaced: err };
      const action = err.status >= 500 ? "next" : "surface";
      return { ok: false, failure: { status: null, kind: "invalid", reason: err.message, action }, surfaced: err };
    }

    const plan = candidate.source.plan;
    let login: { token: string; credential: OAuthCredential } | undefined;
    const send = (): Promise<UpstreamResponse> => {
      const shaped = plan && login ? shapeForPlan(plan, exchange, login.token, login.credential.account?.account_id) : exchange;
      return deps.upstream.send({ url: exchange.url, headers: shaped.headers, body: JSON.stringify(shaped.body), timeouts: candidate.source.timeouts, signal });
    };

    if (exchange.dropped.length > 0) deps.log?.debug("fields not sent", { request_id: inbound.requestId, provider: candidate.source.id, protocol: candidate.protocol, fields: exchange.dropped.join(",") });

    let response: UpstreamResponse;
    const waitStart = performance.now();
    const waited = () => deps.onWait?.(performance.now() - waitStart);
    try {
      const label = candidate.account.label;
      if (plan) login = await subscriptionsOf(deps).accessToken(plan, label);
      response = await send();
      // A plan's token can be revoked before its expiry: refresh once and send again.
      if (response.status === 401 && plan && login) {
        await response.text(ERROR_BODY_LIMIT).catch(() => "");
        login = await subscriptionsOf(deps).refreshAfterRejection(plan, login.token, label);
        response = await send();
      }
    } catch (err) {
      waited();
      if (err instanceof BitRouterError) return { ok: false, failure: { status: err.status, kind: "status", reason: err.message, action: "next" } };
      // Serialising the body for the source happens in send(), before any byte leaves.
      if (isTooDeep(err)) return tooDeepFailure();
      if (!(err instanceof UpstreamFailure)) throw err;
      return { ok: false, failure: classifyFailure(err) };
    }

    if (plan) deps.plans?.headers(candidate, response.headers, response.status);
    if (response.status < 200 || response.status >= 300) {
      const body = await response.text(ERROR_BODY_LIMIT).catch(() => "");
      waited();
      const failure = classifyStatus(response.status, response.headers, deps.maxRetryWaitMs, body);
      // A plan's own reset time says how long this account is out, when Retry-After does not.
      const resetsAt = plan ? deps.plans?.rejection(candidate, response.status, body) : undefined;
      if (resetsAt !== undefined) {
        failure.resumeAt = resetsAt;
        failure.retryAfterMs ??= Math.max(0, resetsAt - Date.now());
      }
      failure.reason = `HTTP ${response.status}: ${scrubSecrets(upstreamMessage(body), candidate.apiKey).slice(0, 160)}`;
      if (failure.action === "surface") {
        return { ok: false, failure, surfaced: exchange.surfacedError({ status: response.status, headers: response.headers, body: scrubSecrets(body, candidate.apiKey) }) };
      }
      return { ok: false, failure };
    }

    if (inbound.stream) return streamAttempt(exchange, response, candidate, deps.plans).finally(waited);
    if (exchange.upstreamStream) return foldAttempt(exchange, response, candidate, deps.plans).finally(waited);

    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      return { ok: false, failure: readFailure(err, candidate) };
    } finally {
      waited();
    }
    const decoded = exchange.decodeJson(text);
    if (!decoded.ok) return { ok: false, failure: invalid(scrubSecrets(decoded.reason, candidate.apiKey)) };
    return { ok: true, value: { kind: "json", answer: { body: decoded.body, usage: decoded.usage }, upstreamHeaders: response.headers } };
  };
}

/** Serialising or translating a body too deep to walk: a 400 before any source is called. */
function tooDeepFailure() {
  const error = tooDeep();
  return { ok: false as const, failure: { status: 400, kind: "invalid" as const, reason: error.message, action: "surface" as const }, surfaced: error };
}

function subscriptionsOf(deps: AttemptDeps): SubscriptionAuth {
  if (!deps.subscriptions) throw new BitRouterError(500, "internal_error", "subscription logins are not available here", { code: "internal_error" });
  return deps.subscriptions;
}

/** A JSON answer read off a whole stream (a stream-only source). */
async function foldAttempt(exchange: Exchange, response: UpstreamResponse, candidate: Target, plans: PlanObserver | undefined) {
  const { relay, answer } = exchange.fold();
  try {
    for (;;) {
      const chunks = await response.readBatch();
      if (chunks === null) break;
      for (const chunk of chunks) relay.push(chunk);
      if (relay.failure) break;
    }
    if (!relay.failure) relay.end();
    if (relay.limits && candidate.source.plan) plans?.event(candidate, relay.limits);
  } catch (err) {
    response.cancel("failed");
    return { ok: false as const, failure: readFailure(err, candidate) };
  }
  if (relay.failure) {
    response.cancel("failed");
    return { ok: false as const, failure: { status: null, kind: "stream" as const, reason: scrubSecrets(relay.failure, candidate.apiKey), action: "next" as const } };
  }
  const decoded = answer();
  if (!decoded.ok) return { ok: false as const, failure: invalid(decoded.reason) };
  return { ok: true as const, value: { kind: "json" as const, answer: { body: decoded.body, usage: decoded.usage }, upstreamHeaders: response.headers } };
}

async function streamAttempt(exchange: Exchange, response: UpstreamResponse, candidate: Target, plans: PlanObserver | undefined) {
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.includes("text/event-stream")) {
    const body = await response.text(ERROR_BODY_LIMIT).catch(() => "");
    const reason = contentType.includes("json") && body.includes('"error"') ? `upstream error: ${upstreamMessage(body)}` : `expected an event stream, got '${contentType || "no content type"}'`;
    return { ok: false as const, failure: invalid(scrubSecrets(reason, candidate.apiKey)) };
  }
  const gate = await commitGate(response, exchange.relay());
  // Codex states its windows in-band, ahead of the content; the rest of the stream is read at its end.
  const limits = gate.ok ? gate.stream.relay.limits : undefined;
  if (limits && candidate.source.plan) plans?.event(candidate, limits);
  if (!gate.ok) {
    const failure: AttemptFailure = { status: null, kind: gate.timeout ? "timeout" : "stream", reason: scrubSecrets(gate.reason, candidate.apiKey), action: "next" };
    return { ok: false as const, failure };
  }
  return { ok: true as const, value: { kind: "stream" as const, stream: { ...gate.stream, secret: candidate.apiKey }, upstreamHeaders: response.headers } };
}

/** A read that failed: the transport's own failure, or a decoder tripping over what the source sent. */
function readFailure(err: unknown, candidate: Target): AttemptFailure {
  if (err instanceof UpstreamFailure) return classifyFailure(err);
  return invalid(scrubSecrets(`malformed response from upstream: ${messageOf(err)}`, candidate.apiKey));
}

function invalid(reason: string): AttemptFailure {
  return { status: null, kind: "invalid", reason, action: "next" };
}
