// POST /v1/messages/count_tokens (Claude Code calls it to manage its context). Forwarded to the
// source when the model resolves to a Messages source; otherwise, or when that source cannot
// answer, an estimate: a quarter of the characters of every text the model would read, plus a
// few tokens per message. The estimate is marked `x-bitrouter-token-count: estimate`.
import type { Context } from "hono";
import { BitRouterError, badRequest } from "../../errors.ts";
import { shapeClaudePlan } from "../../subscriptions/shaping.ts";
import { decodeMessagesRequest } from "../../protocols/messages/codec.ts";
import { estimateTokens } from "../../protocols/estimate.ts";
import { DIALECTS } from "../../protocols/dialects.ts";
import { type Candidate, resolveModel } from "../../routing/resolve.ts";
import { passedResponseHeaders, upstreamRequestHeaders } from "../../upstream/headers.ts";
import { UpstreamFailure } from "../../upstream/client.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { readJsonObject } from "../request-body.ts";

export async function countTokens(c: Context<AppEnv>, deps: AppDeps): Promise<Response> {
  const registry = c.var.registry;
  const body = await readJsonObject(c.req.raw, registry.settings.bodyLimitBytes, registry.settings.bodyIdleMs);
  if (typeof body.model !== "string") throw badRequest("model: required", "invalid_request", "model");
  if (!Array.isArray(body.messages)) throw badRequest("messages: expected an array", "invalid_request", "messages");
  const resolution = resolveModel(registry, body.model, "messages");
  const candidate = resolution.candidates[0];
  if (candidate?.protocol === "messages") {
    const forwarded = await forward(c, deps, candidate, body);
    if (forwarded) return forwarded;
  }
  const tokens = estimateTokens(decodeMessagesRequest(body));
  return c.json({ input_tokens: tokens }, 200, { "x-bitrouter-token-count": "estimate" });
}

async function forward(c: Context<AppEnv>, deps: AppDeps, candidate: Candidate, body: Record<string, unknown>): Promise<Response | null> {
  const { upstream, log } = deps;
  const payload = DIALECTS.messages.passthroughBody(body, candidate.upstreamModel);
  try {
    // The first usable account answers for the source (counting spends no quota).
    const account = candidate.source.accounts.find((a) => a.active) ?? candidate.source.accounts[0]!;
    let headers = upstreamRequestHeaders({ apiKey: account.apiKey ?? candidate.source.apiKey, protocol: "messages", inbound: c.req.raw.headers, requestId: c.var.requestId, stream: false });
    if (candidate.source.plan === "anthropic") {
      if (!deps.subscriptions) return null;
      const { token } = await deps.subscriptions.accessToken("anthropic", account.label);
      headers = shapeClaudePlan({ body: {}, headers }, token).headers;
    }
    const response = await upstream.send({
      url: `${account.apiBase ?? candidate.source.apiBase}/messages/count_tokens`,
      headers,
      body: JSON.stringify(payload),
      timeouts: candidate.source.timeouts,
      signal: c.req.raw.signal,
    });
    const text = await response.text(1024 * 1024);
    if (response.status >= 500 || response.status === 404 || response.status === 429) {
      log.warn("count_tokens forward failed; estimating", { request_id: c.var.requestId, provider: candidate.source.id, status: response.status });
      return null;
    }
    const answerHeaders = passedResponseHeaders(response.headers, new Headers({ "content-type": "application/json", "x-bitrouter-provider": candidate.source.id }));
    return new Response(text, { status: response.status, headers: answerHeaders });
  } catch (err) {
    if (!(err instanceof UpstreamFailure) && !(err instanceof BitRouterError)) throw err;
    log.warn("count_tokens forward failed; estimating", { request_id: c.var.requestId, provider: candidate.source.id, error: err.message });
    return null;
  }
}
