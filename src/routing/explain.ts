// What `bitrouter route <model>` and GET /bitrouter/route?model= show: the chain a request would
// walk, why each candidate is in it, and why each other source is not.
import type { Protocol } from "../config/schema.ts";
import { BitRouterError } from "../errors.ts";
import type { Registry } from "../sources/registry.ts";
import { resolveModel, type Skipped } from "./resolve.ts";

export interface RouteExplanation {
  model: string;
  via?: "provider" | "virtual" | "cascade" | "fallback-list";
  config: string | null;
  chain: { provider: string; model: string; protocol: Protocol; url: string; why: string }[];
  skipped: Skipped[];
  error?: { status: number; message: string };
}

export function explainRoute(registry: Registry, model: string, inbound: Protocol): RouteExplanation {
  try {
    const resolution = resolveModel(registry, model, inbound);
    return {
      model,
      via: resolution.via,
      config: registry.configPath,
      chain: resolution.candidates.map((c) => ({ provider: c.source.id, model: c.upstreamModel, protocol: c.protocol, url: c.source.apiBase, why: c.why })),
      skipped: resolution.skipped,
    };
  } catch (err) {
    if (!(err instanceof BitRouterError)) throw err;
    return { model, config: registry.configPath, chain: [], skipped: [], error: { status: err.status, message: err.message } };
  }
}
