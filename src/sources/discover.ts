// Model discovery: a source that declares no models asks `GET {api_base}/models` at start and
// on reload. Bounded, in parallel, never fatal: a failure keeps the catalog's models and says why.
import type { Logger } from "../log.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { upstreamRequestHeaders } from "../upstream/headers.ts";
import { activeSources, type Registry, type Source, type SourceModel, withSources } from "./registry.ts";

export interface DiscoveryDeps {
  upstream: UpstreamClient;
  log?: Logger;
}

export async function discoverModels(registry: Registry, deps: DiscoveryDeps): Promise<Registry> {
  const targets = activeSources(registry).filter((s) => s.discover);
  if (targets.length === 0) return registry;
  const timeoutMs = registry.settings.discoveryTimeoutMs;
  const updated = await Promise.all(targets.map((source) => discoverSource(source, timeoutMs, deps)));
  return withSources(registry, updated);
}

async function discoverSource(source: Source, timeoutMs: number, deps: DiscoveryDeps): Promise<Source> {
  const protocol = source.protocolRules[0]?.protocols[0] ?? "chat_completions";
  try {
    const response = await deps.upstream.send({
      // Gemini pages its list (50 by default); one page of its maximum holds them all.
      url: protocol === "generate_content" ? `${source.apiBase}/models?pageSize=1000` : `${source.apiBase}/models`,
      method: "GET",
      headers: upstreamRequestHeaders({ apiKey: source.apiKey, protocol, inbound: new Headers(), requestId: "discovery", stream: false }),
      timeouts: { connectMs: Math.min(timeoutMs, source.timeouts.connectMs), readMs: timeoutMs, totalMs: timeoutMs },
    });
    const text = await response.text(8 * 1024 * 1024);
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    const models = readModelList(JSON.parse(text));
    deps.log?.info("discovered models", { provider: source.id, count: models.length });
    // An empty list teaches nothing: what the catalog knows stays.
    if (models.length === 0 && source.models.length > 0) return { ...source, discoveryError: "the source listed no models" };
    return { ...source, models, modelsFrom: "discovery", discoveryError: undefined };
  } catch (err) {
    const reason = (err as Error).message;
    deps.log?.warn("model discovery failed", { provider: source.id, error: reason, kept: source.models.length });
    return { ...source, discoveryError: reason };
  }
}

/**
 * OpenAI-style `{"data":[{"id":…}]}`, with the context length where the server reports one; or
 * Gemini's `{"models":[{"name":"models/…","supportedGenerationMethods":[…],"inputTokenLimit"}]}`,
 * keeping the models that generate content.
 */
export function readModelList(answer: unknown): SourceModel[] {
  const parsed = (answer ?? {}) as { data?: unknown; models?: unknown };
  if (!Array.isArray(parsed.data) && Array.isArray(parsed.models)) return readGeminiModels(parsed.models as Record<string, unknown>[]);
  if (!Array.isArray(parsed.data)) throw new Error("answer has no data list");
  const models: SourceModel[] = [];
  for (const item of parsed.data as Record<string, unknown>[]) {
    if (typeof item?.id !== "string" || item.id === "") continue;
    const meta = (item.meta ?? {}) as Record<string, unknown>;
    const contextLength = [item.context_length, item.max_model_len, item.context_window, meta.n_ctx_train].find((v): v is number => typeof v === "number" && v > 0);
    models.push({ id: item.id, upstreamId: item.id, ...(contextLength ? { contextLength } : {}) });
  }
  return models;
}

function readGeminiModels(list: Record<string, unknown>[]): SourceModel[] {
  const models: SourceModel[] = [];
  for (const item of list) {
    if (typeof item?.name !== "string") continue;
    const methods = item.supportedGenerationMethods;
    if (Array.isArray(methods) && !methods.includes("generateContent")) continue;
    const id = item.name.replace(/^models\//, "");
    if (id === "") continue;
    const contextLength = typeof item.inputTokenLimit === "number" && item.inputTokenLimit > 0 ? item.inputTokenLimit : undefined;
    models.push({ id, upstreamId: id, ...(contextLength ? { contextLength } : {}) });
  }
  return models;
}
