// The inference routes share one path: read the body, check what routing needs, resolve
// the chain, proxy. Only the protocol and its body schema differ.
import type { Protocol } from "../../config/schema.ts";
import type { Context } from "hono";
import { z } from "zod";
import { badRequest, BitRouterError, isTooDeep } from "../../errors.ts";
import { DIALECTS } from "../../protocols/dialects.ts";
import { camelGeminiRequest } from "../../protocols/gemini/normalize.ts";
import { clientContext, type InboundRequest } from "../../proxy/exchange.ts";
import { proxyRequest } from "../../proxy/proxy-request.ts";
import { type Resolution, resolveRequest } from "../../routing/resolve.ts";
import { sessionKey } from "../../routing/session.ts";
import { type AppEnv, disableIdleTimeout, type RouteDeps } from "../app.ts";
import { readJsonObject } from "../request-body.ts";
import { logRejected, zodMessage } from "./reject.ts";

const routing = {
  model: z.string().optional(),
  models: z.array(z.string()).optional(),
  stream: z.boolean().nullish(),
};

/** Only what routing needs is checked; every other field passes through untouched. */
export const REQUEST_SCHEMAS: Record<Protocol, z.ZodType<Record<string, unknown>>> = {
  chat_completions: z.looseObject({
    ...routing,
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
    messages: z.array(z.unknown()).min(1, "messages must contain at least one message"),
  }),
  messages: z.looseObject({ ...routing, messages: z.array(z.unknown()).min(1, "messages must contain at least one message"), max_tokens: z.number().int().positive().optional() }),
  responses: z.looseObject({ ...routing, input: z.union([z.string(), z.array(z.unknown())]) }),
  // The model and the stream choice come from the URL (routes/gemini.ts).
  // Google's snake_case spellings read as camelCase (gemini/normalize.ts), for the audit and the codec alike.
  generate_content: z.preprocess(
    camelGeminiRequest,
    z.looseObject({ models: routing.models, contents: z.array(z.unknown()).min(1, "contents must contain at least one content") }),
  ) as z.ZodType<Record<string, unknown>>,
};

/** What the URL says instead of the body (Gemini: `/v1beta/models/{model}:streamGenerateContent`). */
export interface FromUrl {
  model: string;
  stream: boolean;
}

export async function handleInference(c: Context<AppEnv>, deps: RouteDeps, protocol: Protocol, fromUrl?: FromUrl): Promise<Response> {
  disableIdleTimeout(c.env?.server, c.req.raw);
  const registry = c.var.registry;
  const requestId = c.var.requestId;
  let inbound: InboundRequest;
  let resolution: Resolution;
  const arrived = deps.now();
  const started = performance.now();
  let raw: Record<string, unknown> | undefined;
  try {
    raw = await readJsonObject(c.req.raw, registry.settings.bodyLimitBytes, registry.settings.bodyIdleMs);
    const parsed = REQUEST_SCHEMAS[protocol].safeParse(raw);
    if (!parsed.success) throw badRequest(zodMessage(parsed.error), "invalid_request", parsed.error.issues[0]?.path.join("."));
    const body = parsed.data;
    resolution = resolveRequest(registry, fromUrl ? fromUrl.model : (body.model as string | undefined), body.models as string[] | undefined, protocol);
    inbound = {
      protocol,
      requestId,
      requestedModel: resolution.requested,
      stream: fromUrl ? fromUrl.stream : body.stream === true,
      wantsUsage: (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
      headers: c.req.raw.headers,
      body,
      created: Math.floor(Date.now() / 1000),
      session: sessionKey(protocol, body, c.req.raw.headers),
    };
  } catch (err) {
    logRejected(deps.log, requestId, err);
    // A request refused before any source (a bad body, an unknown model) is still a request: it
    // gets its ledger row and its count, with no source and no usage.
    const status = err instanceof BitRouterError ? err.status : isTooDeep(err) ? 400 : c.req.raw.signal.aborted ? 499 : 500;
    deps.onFinished({
      requestId,
      at: arrived,
      protocol,
      requestedModel: fromUrl?.model ?? (typeof raw?.model === "string" ? raw.model : ""),
      stream: fromUrl?.stream ?? raw?.stream === true,
      status,
      attempts: 0,
      failed: [],
      durationMs: performance.now() - started,
      usage: null,
    });
    throw err;
  }
  return proxyRequest(inbound, resolution, {
    upstream: deps.upstream,
    subscriptions: deps.subscriptions,
    log: deps.log,
    settings: registry.settings,
    state: deps.state,
    plans: deps.plans,
    now: deps.now,
    onFinished: deps.onFinished,
    onStream: deps.metrics.stream,
    signal: c.req.raw.signal,
    errorFrame: (error) => DIALECTS[protocol].errorStream(error, clientContext(inbound)),
    keepAliveFrame: DIALECTS[protocol].keepAlive,
  });
}
