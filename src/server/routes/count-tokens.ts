// Token counting: POST /v1/messages/count_tokens (Claude Code calls it to manage its context)
// and POST /v1beta/models/{model}:countTokens (gemini-cli). Forwarded to the source when the
// model resolves to a source of the client's own protocol; otherwise, or when that source cannot
// answer, an estimate: a quarter of the characters of every text the model would read, plus a
// few tokens per message. The estimate is marked `x-bitrouter-token-count: estimate`.
import type { Context } from "hono";
import { BitRouterError, badRequest } from "../../errors.ts";
import type { Protocol } from "../../config/schema.ts";
import { shapeClaudePlan } from "../../subscriptions/shaping.ts";
import { decodeMessagesRequest } from "../../protocols/messages/codec.ts";
import { decodeGeminiRequest } from "../../protocols/gemini/codec.ts";
import { camelGeminiCountRequest } from "../../protocols/gemini/normalize.ts";
import { estimateTokens } from "../../protocols/estimate.ts";
import { DIALECTS } from "../../protocols/dialects.ts";
import { asObject, isObject, type Json } from "../../protocols/json.ts";
import { type Candidate, resolveModel } from "../../routing/resolve.ts";
import { passedResponseHeaders, upstreamRequestHeaders } from "../../upstream/headers.ts";
import { UpstreamFailure } from "../../upstream/client.ts";
import { scrubSecrets } from "../../log.ts";
import type { AppDeps, AppEnv } from "../app.ts";
import { readJsonObject } from "../request-body.ts";

const ESTIMATE = { "x-bitrouter-token-count": "estimate" };

export async function countTokens(c: Context<AppEnv>, deps: AppDeps): Promise<Response> {
  const registry = c.var.registry;
  const body = await readJsonObject(c.req.raw, registry.settings.bodyLimitBytes, registry.settings.bodyIdleMs);
  if (typeof body.model !== "string") throw badRequest("model: required", "invalid_request", "model");
  if (!Array.isArray(body.messages)) throw badRequest("messages: expected an array", "invalid_request", "messages");
  const candidate = resolveModel(registry, body.model, "messages").candidates[0];
  if (candidate?.protocol === "messages") {
    const payload = DIALECTS.messages.passthroughBody(body, candidate.upstreamModel);
    const forwarded = await forward(c, deps, candidate, "messages", (apiBase) => `${apiBase}/messages/count_tokens`, payload);
    if (forwarded) return forwarded;
  }
  return c.json({ input_tokens: estimateTokens(decodeMessagesRequest(body)) }, 200, ESTIMATE);
}

/**
 * Gemini's countTokens: the body is `{contents}` or `{generateContentRequest: {contents,
 * systemInstruction, tools, …}}`; the answer `{totalTokens}`.
 */
export async function countGeminiTokens(c: Context<AppEnv>, deps: AppDeps, model: string): Promise<Response> {
  const registry = c.var.registry;
  const body = asObject(camelGeminiCountRequest(await readJsonObject(c.req.raw, registry.settings.bodyLimitBytes, registry.settings.bodyIdleMs)));
  // BitRouter's own fallback list is not Google's to see.
  delete body.models;
  const request = isObject(body.generateContentRequest) ? body.generateContentRequest : body;
  if (!Array.isArray(request.contents)) throw badRequest("contents: expected an array", "invalid_request", "contents");
  const candidate = resolveModel(registry, model, "generate_content").candidates[0];
  if (candidate?.protocol === "generate_content") {
    const upstream = candidate.upstreamModel;
    // The nested request names its model too; it must be the source's.
    const payload: Json = isObject(body.generateContentRequest) ? { ...body, generateContentRequest: { ...asObject(body.generateContentRequest), model: `models/${upstream}` } } : body;
    const forwarded = await forward(c, deps, candidate, "generate_content", (apiBase) => `${apiBase}/models/${encodeURIComponent(upstream)}:countTokens`, payload);
    if (forwarded) return forwarded;
  }
  return c.json({ totalTokens: estimateTokens(decodeGeminiRequest(request)) }, 200, ESTIMATE);
}

async function forward(c: Context<AppEnv>, deps: AppDeps, candidate: Candidate, protocol: Protocol, url: (apiBase: string) => string, payload: Json): Promise<Response | null> {
  const { upstream, log } = deps;
  try {
    // The first usable account answers for the source (counting spends no quota).
    const account = candidate.source.accounts.find((a) => a.active) ?? candidate.source.accounts[0]!;
    let headers = upstreamRequestHeaders({ apiKey: account.apiKey ?? candidate.source.apiKey, protocol, inbound: c.req.raw.headers, requestId: c.var.requestId, stream: false });
    if (candidate.source.plan === "anthropic") {
      if (!deps.subscriptions) return null;
      const { token } = await deps.subscriptions.accessToken("anthropic", account.label);
      headers = shapeClaudePlan({ body: {}, headers }, token).headers;
    }
    const response = await upstream.send({
      url: url(account.apiBase ?? candidate.source.apiBase),
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
    // A source's error may quote the key it was sent; the client never sees it.
    const body = response.status >= 200 && response.status < 300 ? text : scrubSecrets(text, account.apiKey ?? candidate.source.apiKey);
    return new Response(body, { status: response.status, headers: answerHeaders });
  } catch (err) {
    if (!(err instanceof UpstreamFailure) && !(err instanceof BitRouterError)) throw err;
    log.warn("count_tokens forward failed; estimating", { request_id: c.var.requestId, provider: candidate.source.id, error: err.message });
    return null;
  }
}
