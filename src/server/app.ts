// createApp(deps): the Hono app. Nothing here starts a server or reads the environment;
// server/serve.ts wires it to Bun.serve.
import type { Server } from "bun";
import { Hono } from "hono";
import { isProtocol, PROTOCOLS } from "../config/schema.ts";
import { badRequest, BitRouterError, isTooDeep, tooDeep } from "../errors.ts";
import { HOP_HEADER } from "../upstream/headers.ts";
import { explainRoute } from "../routing/explain.ts";
import { type SharedStatus, statusReport } from "../state/report.ts";
import { ClientGone } from "../routing/failover.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../sources/registry.ts";
import type { SubscriptionAuth } from "../subscriptions/tokens.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { createMemoryState, type TargetState } from "../state/target-state.ts";
import { createPlanObserver, type PlanObserver } from "../windows/observe.ts";
import { zValidator } from "@hono/zod-validator";
import type { Ledger } from "../ledger/ledger.ts";
import { toUsageQuery, usageQuerySchema } from "../ledger/query.ts";
import type { SummaryResult } from "../ledger/summary-process.ts";
import { openUsageStore, type UsageQuery, type UsageSummary } from "../ledger/store.ts";
import { existsSync } from "node:fs";
import { createMetrics, type Metrics } from "../metrics/metrics.ts";
import type { RequestEventSink } from "../request-event.ts";
import { inboundAuth } from "./middleware/auth.ts";
import { type ErrorDialect, internalError, renderError } from "./render-error.ts";
import { countTokens } from "./routes/count-tokens.ts";
import { handleInference } from "./routes/inference.ts";
import { dashboardPages, liveTail } from "./routes/dashboard.tsx";
import { geminiRoutes } from "./routes/gemini.ts";
import { isGoogleClient } from "./gemini-paths.ts";
import { createLiveFeed, type LiveFeed } from "../live/feed.ts";
import { modelsRoutes } from "./routes/models.ts";

export interface AppDeps {
  /** The current registry; each request takes one snapshot (a reload never changes it mid-request). */
  registry: () => Registry;
  upstream: UpstreamClient;
  log: Logger;
  /** Tokens for subscription sources (absent: such sources fail over with a clear reason). */
  subscriptions?: SubscriptionAuth;
  newRequestId?: () => string;
  /** What the router remembers across requests (default: a fresh in-memory state). */
  state?: TargetState;
  now?: () => number;
  /** The usage ledger (absent: an in-process test). */
  ledger?: Ledger;
  /** The dashboard's live tail (default: a fresh one). */
  live?: LiveFeed;
  /** Where the state is shared (`state.redis`), for GET /bitrouter/status; absent: this instance alone. */
  shared?: () => SharedStatus;
  /** Summarises the ledger for GET /bitrouter/usage (the server: in a child process; default: here). */
  summarizeUsage?: (path: string, query: UsageQuery) => Promise<SummaryResult>;
}

/** The dependencies the routes use, with the defaults filled in. */
export interface RouteDeps extends AppDeps {
  state: TargetState;
  plans: PlanObserver;
  now: () => number;
  startedAt: number;
  metrics: Metrics;
  /** Every finished request: the ledger and the metrics. */
  onFinished: RequestEventSink;
}

export type AppEnv = {
  Bindings: { server?: Server<undefined> };
  Variables: { requestId: string; registry: Registry };
};

const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(appDeps: AppDeps): Hono<AppEnv> {
  const now = appDeps.now ?? Date.now;
  const state = appDeps.state ?? createMemoryState({ now });
  const metrics = createMetrics({ state, registry: appDeps.registry, now });
  const live = appDeps.live ?? createLiveFeed();
  const onFinished: RequestEventSink = (event) => {
    appDeps.ledger?.record(event);
    metrics.observe(event);
    live.record(event);
  };
  const deps: RouteDeps = { ...appDeps, state, plans: createPlanObserver(state, now), now, startedAt: now(), metrics, onFinished };
  const newRequestId = deps.newRequestId ?? (() => crypto.randomUUID());
  const app = new Hono<AppEnv>();

  // Request ids being answered right now. Ours travel upstream as x-bitrouter-request-id with
  // x-bitrouter-hop, so one coming back in with the hop mark while it is still in flight means a
  // source points at this server: a loop. A client that reuses an id in flight (no hop mark) is
  // no loop: its request gets an id of its own.
  const inFlight = new Set<string>();
  app.use(async (c, next) => {
    const header = c.req.header("x-bitrouter-request-id");
    const offered = header && CLIENT_REQUEST_ID.test(header) ? header : undefined;
    if (offered !== undefined && inFlight.has(offered) && c.req.header(HOP_HEADER) !== undefined) {
      const error = new BitRouterError(508, "upstream_error", `request ${offered} came back to this server while it was being routed: a source's api_base points at BitRouter itself`, {
        code: "routing_loop",
      });
      return renderError(error, dialectFor(c.req.raw), offered);
    }
    const requestId = offered !== undefined && !inFlight.has(offered) ? offered : newRequestId();
    c.set("requestId", requestId);
    c.set("registry", deps.registry());
    inFlight.add(requestId);
    try {
      await next();
    } finally {
      inFlight.delete(requestId);
    }
    c.res.headers.set("x-bitrouter-request-id", requestId);
  });

  app.get("/health", (c) => c.json({ status: "ok" }));
  // The dashboard's page and assets: before the API's auth (they hold no data; see dashboard.tsx).
  app.route("/", dashboardPages());
  app.use("/v1/*", inboundAuth());
  app.use("/v1beta/*", inboundAuth());
  app.use("/bitrouter/*", inboundAuth());
  // `bitrouter route` over HTTP: the chain a request for ?model= would walk, and why.
  app.get("/bitrouter/route", (c) => {
    const model = c.req.query("model");
    if (!model) throw badRequest("model: the query parameter is required, e.g. /bitrouter/route?model=llama3.1", "invalid_request", "model");
    const protocol = c.req.query("protocol") ?? "chat_completions";
    if (!isProtocol(protocol)) throw badRequest(`protocol must be one of ${PROTOCOLS.join(", ")}`, "invalid_request", "protocol");
    const explanation = explainRoute(c.var.registry, model, protocol, deps.state, deps.now(), c.req.query("session") || undefined);
    return c.json(explanation, explanation.error ? (explanation.error.status as 404) : 200);
  });
  app.get("/bitrouter/live", (c) => liveTail(c, live));
  // `bitrouter status` over HTTP: sources and accounts, targets on record, plan windows.
  app.get("/bitrouter/status", (c) => c.json(statusReport(c.var.registry, deps.state, deps.now(), deps.startedAt, deps.shared?.())));
  app.get("/bitrouter/usage", zValidator("query", usageQuerySchema, (result) => {
    if (!result.success) {
      const issue = result.error.issues[0];
      throw badRequest(`${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`, "invalid_request", String(issue?.path[0] ?? "query"));
    }
  }), async (c) => {
    // Days are this machine's, as `bitrouter usage` on it would count them.
    const parsed = toUsageQuery(c.req.valid("query"), deps.now(), -new Date().getTimezoneOffset());
    if (!parsed.ok) throw badRequest(parsed.message, "invalid_request", parsed.param);
    if (!c.var.registry.settings.usage.enabled || !deps.ledger) {
      throw new BitRouterError(404, "not_found_error", "the usage ledger is off here (usage: false in the config)", { code: "ledger_off" });
    }
    deps.ledger.flush();
    // Nothing recorded yet (a fresh home): an empty summary, not an error, so a dashboard opened
    // before the first request shows zeros.
    if (!existsSync(deps.ledger.path)) return c.json(emptySummary(parsed.query));
    const result = await (deps.summarizeUsage ?? summarizeHere)(deps.ledger.path, parsed.query);
    if (!result.ok) throw new BitRouterError(503, "upstream_error", `the usage ledger cannot be read: ${result.reason}`, { code: "ledger_unavailable" });
    return c.json(result.summary);
  });
  app.use("/metrics", inboundAuth());
  app.get("/metrics", async () => new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } }));
  // Gemini first: on /v1 it answers only Google's clients and passes the rest on.
  app.route("/v1", geminiRoutes(deps));
  app.route("/v1", modelsRoutes());
  app.post("/v1/chat/completions", (c) => handleInference(c, deps, "chat_completions"));
  app.post("/v1/messages", (c) => handleInference(c, deps, "messages"));
  app.post("/v1/messages/count_tokens", (c) => countTokens(c, deps));
  app.post("/v1/responses", (c) => handleInference(c, deps, "responses"));
  app.route("/v1beta", geminiRoutes(deps));

  app.notFound((c) => {
    const error = new BitRouterError(404, "not_found_error", `no route ${c.req.method} ${c.req.path}`, { code: "route_not_found" });
    return renderError(error, dialectFor(c.req.raw), c.var.requestId);
  });

  app.onError((err, c) => {
    const requestId = c.var.requestId;
    if (err instanceof BitRouterError) return renderError(err, dialectFor(c.req.raw), requestId);
    // The client left while its chain was walked: nobody reads this answer, and it is not our fault.
    if (err instanceof ClientGone) return new Response(null, { status: 499 });
    // A body nested deeper than the engine can walk, met outside the proxy path (count_tokens).
    if (isTooDeep(err)) return renderError(tooDeep(), dialectFor(c.req.raw), requestId);
    deps.log.error("unhandled error", { request_id: requestId, path: c.req.path, error: (err as Error).stack ?? String(err) });
    return renderError(internalError(), dialectFor(c.req.raw), requestId);
  });

  return app;
}

function emptySummary(query: UsageQuery): UsageSummary {
  const store = openUsageStore(":memory:");
  try {
    return store.summarize(query);
  } finally {
    store.close();
  }
}

/** The ledger summarised in this process (tests; the server uses a child process). */
async function summarizeHere(path: string, query: UsageQuery): Promise<SummaryResult> {
  try {
    const store = openUsageStore(path, { readonly: true });
    try {
      return { ok: true, summary: store.summarize(query) };
    } finally {
      store.close();
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** The error shape a request's client reads (gemini-paths.ts says which clients are Google's). */
export function dialectFor(request: Request): ErrorDialect {
  if (isGoogleClient(request)) return "google";
  return new URL(request.url).pathname.startsWith("/v1/messages") ? "anthropic" : "openai";
}

/** Bun closes a connection after 10 s without bytes, even while we wait for a source. */
export function disableIdleTimeout(server: Server<undefined> | undefined, request: Request): void {
  server?.timeout(request, 0);
}
