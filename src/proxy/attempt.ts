// One attempt at one candidate: send, read the status, and either pass the commit gate
// (streams) or read a usable body (JSON). Anything else becomes a classified failure.
import { BitRouterError } from "../errors.ts";
import { scrubSecrets } from "../log.ts";
import type { Usage } from "../protocols/ir.ts";
import { type AttemptFailure, classifyFailure, classifyStatus } from "../routing/classify.ts";
import type { Attempt } from "../routing/failover.ts";
import type { Candidate } from "../routing/resolve.ts";
import { type UpstreamClient, UpstreamFailure, type UpstreamResponse } from "../upstream/client.ts";
import { commitGate, type OpenStream } from "./client-stream.ts";
import { type Exchange, type InboundRequest, planExchange, upstreamMessage } from "./exchange.ts";

export interface JsonAnswer {
  body: string;
  usage: Usage | null;
}

export type Committed = { kind: "stream"; stream: OpenStream; upstreamHeaders: Headers } | { kind: "json"; answer: JsonAnswer; upstreamHeaders: Headers };

const ERROR_BODY_LIMIT = 64 * 1024;

export function createAttempt(inbound: InboundRequest, upstream: UpstreamClient, maxRetryWaitMs: number): Attempt<Committed> {
  return async (candidate, signal) => {
    let exchange: Exchange;
    try {
      exchange = planExchange(inbound, candidate);
    } catch (err) {
      if (!(err instanceof BitRouterError)) throw err;
      // A request this source cannot take (protocol not available) → next; one the request got wrong → surface.
      const action = err.status >= 500 ? "next" : "surface";
      return { ok: false, failure: { status: null, kind: "invalid", reason: err.message, action }, surfaced: err };
    }

    let response: UpstreamResponse;
    try {
      response = await upstream.send({ url: exchange.url, headers: exchange.headers, body: exchange.body, timeouts: candidate.source.timeouts, signal });
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) throw err;
      return { ok: false, failure: classifyFailure(err) };
    }

    if (response.status < 200 || response.status >= 300) {
      const body = await response.text(ERROR_BODY_LIMIT).catch(() => "");
      const failure = classifyStatus(response.status, response.headers, maxRetryWaitMs);
      failure.reason = `HTTP ${response.status}: ${scrubSecrets(upstreamMessage(body), candidate.source.apiKey).slice(0, 160)}`;
      if (failure.action === "surface") {
        return { ok: false, failure, surfaced: exchange.surfacedError({ status: response.status, headers: response.headers, body: scrubSecrets(body, candidate.source.apiKey) }) };
      }
      return { ok: false, failure };
    }

    if (inbound.stream) return streamAttempt(exchange, response, candidate);

    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      return { ok: false, failure: classifyFailure(err as UpstreamFailure) };
    }
    const decoded = exchange.decodeJson(text);
    if (!decoded.ok) return { ok: false, failure: invalid(scrubSecrets(decoded.reason, candidate.source.apiKey)) };
    return { ok: true, value: { kind: "json", answer: { body: decoded.body, usage: decoded.usage }, upstreamHeaders: response.headers } };
  };
}

async function streamAttempt(exchange: Exchange, response: UpstreamResponse, candidate: Candidate) {
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.includes("text/event-stream")) {
    const body = await response.text(ERROR_BODY_LIMIT).catch(() => "");
    const reason = contentType.includes("json") && body.includes('"error"') ? `upstream error: ${upstreamMessage(body)}` : `expected an event stream, got '${contentType || "no content type"}'`;
    return { ok: false as const, failure: invalid(scrubSecrets(reason, candidate.source.apiKey)) };
  }
  const gate = await commitGate(response, exchange.relay());
  if (!gate.ok) {
    const failure: AttemptFailure = { status: null, kind: gate.timeout ? "timeout" : "stream", reason: scrubSecrets(gate.reason, candidate.source.apiKey), action: "next" };
    return { ok: false as const, failure };
  }
  return { ok: true as const, value: { kind: "stream" as const, stream: gate.stream, upstreamHeaders: response.headers } };
}

function invalid(reason: string): AttemptFailure {
  return { status: null, kind: "invalid", reason, action: "next" };
}
