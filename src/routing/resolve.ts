// Model string → ordered chain of candidates (SPEC §6). The same function serves requests,
// `bitrouter route` and `/v1/models`, so what they show is what requests do.
import type { Protocol } from "../config/schema.ts";
import { closestMatches } from "../did-you-mean.ts";
import { badRequest, BitRouterError } from "../errors.ts";
import { activeSources, chooseProtocol, findModel, type Registry, type Source, type SourceModel } from "../sources/registry.ts";

export interface Candidate {
  source: Source;
  /** The declared model, when the source declares it. */
  model: SourceModel | undefined;
  /** What is sent upstream as `model`. */
  upstreamModel: string;
  protocol: Protocol;
  /** Why this candidate is in the chain. */
  why: string;
}

export interface Skipped {
  provider: string;
  model: string;
  reason: string;
}

export interface Resolution {
  requested: string;
  via: "provider" | "virtual" | "cascade" | "fallback-list";
  candidates: Candidate[];
  skipped: Skipped[];
}

export const MAX_FALLBACK_MODELS = 8;

export function resolveModel(registry: Registry, requested: string, inbound: Protocol): Resolution {
  const name = requested.trim();
  if (name === "") throw badRequest("model is empty", "invalid_model", "model");

  const colon = name.indexOf(":");
  if (colon > 0) {
    const source = registry.sources.get(name.slice(0, colon));
    if (source) return resolvePinned(source, name.slice(colon + 1), name, inbound);
  }

  const virtual = registry.virtualModels.get(name);
  if (virtual) {
    const candidates: Candidate[] = [];
    const skipped: Skipped[] = [];
    let endpoints = virtual.endpoints;
    if (virtual.strategy === "cascade") {
      const rank = (id: string) => registry.sources.get(id)?.rank ?? Number.MAX_SAFE_INTEGER;
      endpoints = [...endpoints].sort((a, b) => rank(a.provider) - rank(b.provider) || a.provider.localeCompare(b.provider));
    }
    endpoints.forEach((endpoint, i) => {
      const source = registry.sources.get(endpoint.provider);
      if (!source) {
        skipped.push({ provider: endpoint.provider, model: endpoint.serviceId, reason: "unknown provider" });
      } else if (!source.active) {
        skipped.push({ provider: source.id, model: endpoint.serviceId, reason: `inactive: ${source.reason}` });
      } else {
        const model = findModel(source, endpoint.serviceId);
        candidates.push({
          source,
          model,
          upstreamModel: model?.upstreamId ?? endpoint.serviceId,
          protocol: chooseProtocol(source, model, endpoint.serviceId, inbound),
          why: `endpoint ${i + 1} of virtual model '${name}'`,
        });
      }
    });
    if (candidates.length === 0) {
      throw new BitRouterError(503, "upstream_error", `virtual model '${name}' has no active endpoint: ${describeSkips(skipped)}`, {
        code: "no_active_source",
        headers: { "x-should-retry": "false" },
      });
    }
    return { requested: name, via: "virtual", candidates, skipped };
  }

  const candidates: Candidate[] = [];
  const skipped: Skipped[] = [];
  for (const source of registry.sources.values()) {
    const model = source.models.find((m) => m.id === name);
    if (!model) {
      if (source.active) skipped.push({ provider: source.id, model: name, reason: `active, but does not declare '${name}' (${source.models.length} models, from ${source.modelsFrom})` });
      continue;
    }
    if (!source.active) {
      skipped.push({ provider: source.id, model: name, reason: `inactive: ${source.reason}` });
      continue;
    }
    candidates.push({
      source,
      model,
      upstreamModel: model.upstreamId,
      protocol: chooseProtocol(source, model, name, inbound),
      why: `declares '${name}' (${source.kind}, rank ${source.rank}; ${source.reason})`,
    });
  }
  if (candidates.length > 0) return { requested: name, via: "cascade", candidates, skipped };

  throw notFound(registry, name, skipped.filter((s) => s.reason.startsWith("inactive")));
}

function resolvePinned(source: Source, modelName: string, requested: string, inbound: Protocol): Resolution {
  if (!source.active) {
    throw new BitRouterError(503, "upstream_error", `provider '${source.id}' is inactive: ${source.reason}`, {
      code: "provider_inactive",
      headers: { "x-should-retry": "false" },
    });
  }
  if (modelName === "") {
    throw badRequest(`model '${requested}' names no model after '${source.id}:'`, "invalid_model", "model");
  }
  const model = findModel(source, modelName);
  return {
    requested,
    via: "provider",
    candidates: [
      {
        source,
        model,
        upstreamModel: model?.upstreamId ?? modelName,
        protocol: chooseProtocol(source, model, modelName, inbound),
        why: model ? `pinned to '${source.id}', which declares '${modelName}'` : `pinned to '${source.id}' (model passed through as is)`,
      },
    ],
    skipped: [],
  };
}

/**
 * The chain for a request: `model`, then each entry of the body's `models` fallback list,
 * without repeating a (source, upstream model) pair. Entries that cannot be resolved are
 * reported as skipped, unless nothing at all is left.
 */
export function resolveRequest(registry: Registry, model: string | undefined, fallbacks: string[] | undefined, inbound: Protocol): Resolution {
  const names = [...(model !== undefined ? [model] : []), ...(fallbacks ?? [])];
  if (names.length === 0) throw badRequest("model is required", "invalid_model", "model");
  if ((fallbacks ?? []).length > MAX_FALLBACK_MODELS) {
    throw badRequest(`models: at most ${MAX_FALLBACK_MODELS} fallback models are allowed`, "invalid_models", "models");
  }
  if (names.length === 1) {
    // Unknown as `model` is a 404; unknown as an entry of the `models` list is the request's own mistake (400).
    try {
      return resolveModel(registry, names[0]!, inbound);
    } catch (err) {
      if (model === undefined && err instanceof BitRouterError && err.status === 404) throw badRequest(`models: ${err.message}`, "invalid_models", "models");
      throw err;
    }
  }

  const candidates: Candidate[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  let firstError: BitRouterError | undefined;
  for (const name of names) {
    let resolution: Resolution;
    try {
      resolution = resolveModel(registry, name, inbound);
    } catch (err) {
      if (!(err instanceof BitRouterError)) throw err;
      if (err.status === 404 && (name !== names[0] || model === undefined)) {
        throw badRequest(`models: ${err.message}`, "invalid_models", "models");
      }
      firstError ??= err;
      skipped.push({ provider: "-", model: name, reason: err.message });
      continue;
    }
    skipped.push(...resolution.skipped);
    for (const c of resolution.candidates) {
      const key = `${c.source.id}\u0000${c.upstreamModel}`;
      if (seen.has(key)) continue;
      seen.add(key);
      candidates.push({ ...c, why: name === names[0] ? c.why : `fallback '${name}': ${c.why}` });
    }
  }
  if (candidates.length === 0) throw firstError ?? notFound(registry, names[0]!, skipped);
  return { requested: names[0]!, via: "fallback-list", candidates, skipped };
}

function notFound(registry: Registry, name: string, skipped: Skipped[]): BitRouterError {
  const active = activeSources(registry);
  const known = [...registry.virtualModels.keys(), ...active.flatMap((s) => s.models.map((m) => m.id))];
  const close = closestMatches(name, known, 3);
  const searched = [registry.virtualModels.size > 0 ? "virtual models" : "", ...active.map((s) => s.id)].filter(Boolean);
  let message = `model '${name}' not found: no virtual model or active source declares it`;
  if (skipped.length > 0) message += `; inactive sources that declare it: ${describeSkips(skipped)}`;
  message += searched.length > 0 ? ` (searched ${searched.join(", ")})` : " (no source is active)";
  if (close.length > 0) message += `. Did you mean ${close.map((c) => `'${c}'`).join(", ")}?`;
  message += `${message.endsWith("?") ? "" : "."} Use 'provider:model' to send any model id to a given provider.`;
  return new BitRouterError(404, "not_found_error", message, { code: "model_not_found", param: "model" });
}

function describeSkips(skipped: Skipped[]): string {
  return skipped.map((s) => `${s.provider} (${s.reason})`).join(", ");
}
