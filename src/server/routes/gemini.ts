// Google's Gemini API surface (SPEC §18), so that gemini-cli (`GOOGLE_GEMINI_BASE_URL`) and
// @google/genai reach every source: `POST /v1beta/models/{model}:generateContent`,
// `:streamGenerateContent?alt=sse`, `:countTokens`, and `GET /v1beta/models[/{model}]`. The
// same under `/v1`, which @google/genai 3 uses by default; there `GET /v1/models` stays
// OpenAI's list unless the client speaks Google's auth (x-goog-api-key or ?key=).
// The model is the path's last segment up to its last `:`, so `provider:model` names and
// models with slashes (`openrouter:anthropic/claude-sonnet-4`) work as they do elsewhere.
import type { Context } from "hono";
import { Hono } from "hono";
import { badRequest, BitRouterError } from "../../errors.ts";
import type { AppEnv, RouteDeps } from "../app.ts";
import { countGeminiTokens } from "./count-tokens.ts";
import { handleInference } from "./inference.ts";
import { listModels, type ModelListing } from "./models.ts";
import { resolveModel } from "../../routing/resolve.ts";
import { GEMINI_METHODS, isGoogleClient } from "../gemini-paths.ts";

const METHODS: readonly string[] = GEMINI_METHODS;

/** The routes, mounted under /v1beta and /v1 (where GETs fall through to OpenAI's list for other clients). */
export function geminiRoutes(deps: RouteDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/models", (c, next) => (isGoogleClient(c.req.raw) ? c.json({ models: listModels(c.var.registry).map(geminiModel) }) : next()));
  routes.get("/models/*", (c, next) => {
    if (!isGoogleClient(c.req.raw)) return next();
    const name = modelPath(c);
    const listing = listModels(c.var.registry).find((m) => m.id === name) ?? resolvedListing(c, name);
    if (!listing) throw new BitRouterError(404, "not_found_error", `model '${name}' is not served here; GET /v1beta/models lists what is`, { code: "model_not_found" });
    return c.json(geminiModel(listing));
  });
  routes.post("/models/*", (c) => {
    const path = modelPath(c);
    const colon = path.lastIndexOf(":");
    const method = colon === -1 ? "" : path.slice(colon + 1);
    const model = colon === -1 ? path : path.slice(0, colon);
    if (!METHODS.includes(method)) {
      throw new BitRouterError(404, "not_found_error", `no method '${method || path}' here: BitRouter serves ${METHODS.map((m) => `models/{model}:${m}`).join(", ")}`, { code: "route_not_found" });
    }
    if (model === "") throw badRequest("the model is missing from the path: /v1beta/models/{model}:" + method, "invalid_model", "model");
    if (method === "countTokens") return countGeminiTokens(c, deps, model);
    const stream = method === "streamGenerateContent";
    // Without alt=sse Google streams one JSON array; every Gemini client asks for SSE.
    if (stream && c.req.query("alt") !== "sse") throw badRequest("streamGenerateContent is served as server-sent events only: add ?alt=sse to the URL", "invalid_request", "alt");
    return handleInference(c, deps, "generate_content", { model, stream });
  });
  return routes;
}

/** A name the list does not hold but requests resolve (`provider:model`), listed as what serves it. */
function resolvedListing(c: Context<AppEnv>, name: string): ModelListing | undefined {
  try {
    const { candidates } = resolveModel(c.var.registry, name, "generate_content");
    if (candidates.length === 0) return undefined;
    return { id: name, object: "model", created: c.var.registry.builtAt, owned_by: candidates[0]!.source.id, providers: [...new Set(candidates.map((k) => k.source.id))] };
  } catch {
    return undefined;
  }
}

function modelPath(c: Context<AppEnv>): string {
  const path = c.req.path;
  const raw = path.slice(path.indexOf("/models/") + "/models/".length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest("the model in the path is not valid percent-encoding", "invalid_model", "model");
  }
}

/** A listing in Google's Model shape; `name` is what a client passes back as the model. */
function geminiModel(m: ModelListing): Record<string, unknown> {
  return {
    name: `models/${m.id}`,
    baseModelId: m.id,
    version: "bitrouter",
    displayName: m.id,
    description: `served by ${m.providers.join(", ") || "no active source"} through BitRouter`,
    ...(m.context_length ? { inputTokenLimit: m.context_length } : {}),
    supportedGenerationMethods: METHODS,
  };
}
