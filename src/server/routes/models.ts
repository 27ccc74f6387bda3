// GET /v1/models: virtual models, then every bare model id with the sources that serve it.
import { Hono } from "hono";
import { activeSources } from "../../sources/registry.ts";
import type { AppEnv } from "../app.ts";

export function modelsRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/models", (c) => c.json({ object: "list", data: listModels(c.var.registry) }));
  return routes;
}

export interface ModelListing {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  providers: string[];
  context_length?: number;
  capabilities?: string[];
}

export function listModels(registry: import("../../sources/registry.ts").Registry): ModelListing[] {
  const created = registry.builtAt;
  const listed: ModelListing[] = [];
  for (const vm of registry.virtualModels.values()) {
    const providers = vm.endpoints.map((e) => e.provider).filter((p) => registry.sources.get(p)?.active);
    listed.push({ id: vm.name, object: "model", created, owned_by: "bitrouter", providers: [...new Set(providers)] });
  }
  const byId = new Map<string, ModelListing>();
  for (const source of activeSources(registry)) {
    for (const model of source.models) {
      let entry = byId.get(model.id);
      if (!entry) {
        entry = { id: model.id, object: "model", created, owned_by: source.id, providers: [] };
        byId.set(model.id, entry);
      }
      if (!entry.providers.includes(source.id)) entry.providers.push(source.id);
      if (model.contextLength !== undefined) entry.context_length ??= model.contextLength;
      if (model.capabilities?.length) entry.capabilities ??= model.capabilities;
    }
  }
  return [...listed, ...[...byId.values()].sort((a, b) => a.id.localeCompare(b.id))];
}
