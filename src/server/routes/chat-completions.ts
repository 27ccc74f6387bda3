// POST /v1/chat/completions (OpenAI Chat Completions), streaming and not.
import { Hono } from "hono";
import { badRequest } from "../../errors.ts";
import { chatErrorFrame } from "../../protocols/chat-completions/errors.ts";
import { chatRequestSchema } from "../../protocols/chat-completions/request.ts";
import type { InboundRequest } from "../../proxy/exchange.ts";
import { proxyRequest } from "../../proxy/proxy-request.ts";
import { resolveRequest } from "../../routing/resolve.ts";
import { type AppDeps, type AppEnv, disableIdleTimeout } from "../app.ts";
import { readJsonObject } from "../request-body.ts";
import { logRejected, zodMessage } from "./reject.ts";

export function chatCompletionsRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.post("/chat/completions", async (c) => {
    disableIdleTimeout(c.env?.server, c.req.raw);
    const registry = c.var.registry;
    const requestId = c.var.requestId;
    let inbound: InboundRequest;
    let resolution: ReturnType<typeof resolveRequest>;
    try {
      const raw = await readJsonObject(c.req.raw, registry.settings.bodyLimitBytes);
      const parsed = chatRequestSchema.safeParse(raw);
      if (!parsed.success) throw badRequest(zodMessage(parsed.error), "invalid_request", String(parsed.error.issues[0]?.path.join(".") ?? ""));
      const body = parsed.data;
      resolution = resolveRequest(registry, body.model, body.models, "chat_completions");
      inbound = {
        protocol: "chat_completions",
        requestId,
        requestedModel: resolution.requested,
        stream: body.stream === true,
        wantsUsage: body.stream_options?.include_usage === true,
        headers: c.req.raw.headers,
        body,
      };
    } catch (err) {
      logRejected(deps.log, requestId, err);
      throw err;
    }
    return proxyRequest(inbound, resolution, { upstream: deps.upstream, log: deps.log, settings: registry.settings, signal: c.req.raw.signal, errorFrame: chatErrorFrame });
  });
  return routes;
}
