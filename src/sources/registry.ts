// Config + environment + catalog → the set of model sources, each active or inactive with
// the reason in words. A Registry is immutable; reload and discovery build a new one.
import { isIP } from "node:net";
import type { LoadedConfig, UnsetVariable } from "../config/load.ts";
import { skipsAuth } from "../config/load.ts";
import { DEFAULT_LISTEN } from "../config/listen.ts";
import type { Compatibility, ConfigFile, Protocol, ProtocolRule, ProviderConfig, TimeoutsConfig } from "../config/schema.ts";
import type { CredentialFile, OAuthCredential } from "../subscriptions/credentials.ts";
import { isPlanId, type PlanId, planFor } from "../subscriptions/plans.ts";
import { BUILTIN_IDS, type CatalogEntry, catalogEntry, defaultKeyEnv, type SourceKind } from "./catalog.ts";

export interface SourceModel {
  /** The name clients use. */
  id: string;
  /** What is sent upstream. */
  upstreamId: string;
  protocols?: Protocol[];
  compatibility?: NonNullable<Compatibility["chat_completions"]>;
  capabilities?: string[];
  contextLength?: number;
}

export interface Timeouts {
  connectMs: number;
  readMs: number;
  totalMs: number | null;
}

export interface Source {
  id: string;
  label: string;
  kind: SourceKind;
  /** Has a block under `providers:`. */
  configured: boolean;
  active: boolean;
  /** Why it is active or inactive, for the banner, `route` and errors. */
  reason: string;
  apiBase: string;
  /** Secret: never logged or printed. */
  apiKey: string | undefined;
  protocolRules: ProtocolRule[];
  models: SourceModel[];
  modelsFrom: "config" | "catalog" | "discovery" | "detection" | "none";
  /** Ask `GET {api_base}/models` at start and reload. */
  discover: boolean;
  /** Why discovery found nothing, when it failed. */
  discoveryError?: string;
  /** Cascade rank: lower first. Explicit `priority`, else by kind. */
  rank: number;
  timeouts: Timeouts;
  /** Set when the source runs on a subscription login: requests carry its token and shaping. */
  plan?: PlanId;
  /** The source answers only streams (the Codex backend): a JSON request is folded from one. */
  streamOnly?: boolean;
}

export interface VirtualModel {
  name: string;
  strategy: "priority" | "cascade";
  endpoints: { provider: string; serviceId: string }[];
}

export interface Settings {
  listen: string;
  skipAuth: boolean;
  apiKeys: string[];
  logLevel: "debug" | "info" | "warn" | "error";
  bodyLimitBytes: number;
  /** Longest silence while a request body is still due (server.request_body_timeout_secs). */
  bodyIdleMs: number;
  keepaliveMs: number;
  shutdownGraceMs: number;
  maxRetryWaitMs: number;
  discoveryTimeoutMs: number;
  /** `upstream.timeouts` over the defaults: what a source with no block of its own gets (a detected server). */
  sourceTimeouts: Timeouts;
}

export interface Registry {
  configPath: string | null;
  /** Every known source, active or not, in cascade order. */
  sources: ReadonlyMap<string, Source>;
  virtualModels: ReadonlyMap<string, VirtualModel>;
  settings: Settings;
  /** Unix seconds. */
  builtAt: number;
}

export const KIND_RANK: Record<SourceKind, number> = { "self-hosted": 100, subscription: 200, api: 300 };

const DEFAULT_TIMEOUTS = { connect_secs: 10, read_secs: 300, total_secs: null };

export function buildRegistry(loaded: LoadedConfig, env: Record<string, string | undefined>, credentials: CredentialFile = {}, now = Date.now()): Registry {
  const config = loaded.config;
  const configured = config.providers ?? {};
  const ids = [...new Set([...BUILTIN_IDS, ...Object.keys(configured)])];
  const sources = ids.map((id) => {
    const block = id in configured ? (configured[id] ?? {}) : undefined;
    const source = buildSource(id, block, catalogEntry(id), config, env, unsetIn(loaded.unset, id), keyVariable(loaded.substituted, id));
    const login = isPlanId(id) ? credentials[id]?.default : undefined;
    return login && block?.active !== false ? onPlan(source, id as PlanId, login, block, env, now) : source;
  });

  const virtualModels = new Map<string, VirtualModel>();
  for (const [name, vm] of Object.entries(config.models ?? {})) {
    virtualModels.set(name, {
      name,
      strategy: vm.strategy ?? "priority",
      endpoints: vm.endpoints.map((e) => ({ provider: e.provider, serviceId: e.service_id })),
    });
  }

  return {
    configPath: loaded.path,
    sources: inCascadeOrder(sources),
    virtualModels,
    settings: buildSettings(config),
    builtAt: Math.floor(now / 1000),
  };
}

/** A logged-in plan: the source runs on the subscription (flat-rate tokens) instead of a key. */
function onPlan(source: Source, plan: PlanId, login: OAuthCredential, block: ProviderConfig | undefined, env: Record<string, string | undefined>, now: number): Source {
  const planInfo = planFor(plan, env);
  return {
    ...source,
    kind: "subscription",
    label: planInfo.label,
    active: true,
    reason: describeLogin(login, now),
    apiBase: block?.api_base ? source.apiBase : planInfo.apiBase,
    apiKey: undefined,
    protocolRules: [{ pattern: "*", protocols: [plan === "anthropic" ? "messages" : "responses"] }],
    rank: block?.priority ?? KIND_RANK.subscription,
    plan,
    streamOnly: plan === "openai-codex",
    // Discovery sends no login token; a plan's models come from the catalog and the config.
    discover: false,
  };
}

export function describeLogin(login: OAuthCredential, now = Date.now()): string {
  const who = login.account?.email ? ` as ${login.account.email}` : "";
  const plan = login.account?.plan ? ` (${login.account.plan})` : "";
  if (!login.expires_at) return `logged in${who}${plan}`;
  const until = new Date(login.expires_at * 1000).toISOString().replace(/:\d\d\.\d+Z$/, " UTC").replace("T", " ");
  return login.expires_at * 1000 > now ? `logged in${who}${plan}, token valid until ${until}` : `logged in${who}${plan}, token expired at ${until} (refreshed on the next request)`;
}

function compareCascade(a: Source, b: Source): number {
  return a.rank - b.rank || a.id.localeCompare(b.id);
}

function buildSettings(config: ConfigFile): Settings {
  const server = config.server ?? {};
  const upstream = config.upstream ?? {};
  return {
    listen: server.listen ?? DEFAULT_LISTEN,
    skipAuth: skipsAuth(config),
    apiKeys: (server.api_keys ?? []).filter((k) => k !== ""),
    logLevel: server.log_level ?? "info",
    bodyLimitBytes: Math.round((server.body_limit_mb ?? 32) * 1024 * 1024),
    bodyIdleMs: (server.request_body_timeout_secs ?? 30) * 1000,
    keepaliveMs: (server.keepalive_secs ?? 15) * 1000,
    shutdownGraceMs: (server.shutdown_grace_secs ?? 10) * 1000,
    maxRetryWaitMs: (upstream.max_retry_wait_secs ?? 5) * 1000,
    discoveryTimeoutMs: (upstream.discovery_timeout_secs ?? 3) * 1000,
    sourceTimeouts: resolveTimeouts(upstream.timeouts, undefined),
  };
}

function buildSource(
  id: string,
  block: ProviderConfig | undefined,
  entry: CatalogEntry | undefined,
  config: ConfigFile,
  env: Record<string, string | undefined>,
  unset: string[],
  configKeyVariable: string | undefined,
): Source {
  const apiBase = trimSlash(block?.api_base || entry?.apiBase || "");
  const kind: SourceKind = entry?.kind ?? (isPrivateHost(apiBase) ? "self-hosted" : "api");
  const keyEnv = entry?.keyEnv ?? defaultKeyEnv(id);
  const keyFromConfig = block?.api_key;
  const apiKey = keyFromConfig !== undefined ? keyFromConfig || undefined : (nonEmpty(env[keyEnv]) ?? nonEmpty(env[defaultKeyEnv(id)]));

  let active = true;
  let reason: string;
  if (block?.active === false) {
    active = false;
    reason = "disabled in config (active: false)";
  } else if (unset.length > 0) {
    active = false;
    reason = `${[...new Set(unset)].join(", ")} ${unset.length > 1 ? "are" : "is"} not set`;
  } else if (entry?.credential === "oauth") {
    active = false;
    reason = `not logged in (run \`bitrouter login ${id}\`)`;
  } else if (entry?.credential === "api_key" && !apiKey) {
    active = false;
    reason = keyFromConfig !== undefined ? "api_key is empty" : `${keyEnv} is not set`;
  } else if (entry?.credential === "none" && !block) {
    active = false;
    reason = `not configured (add \`${id}: {}\` under providers)`;
  } else {
    const keySource = keyFromConfig === undefined ? keyEnv : (configKeyVariable ?? "config");
    reason = apiKey ? `key from ${keySource}` : block ? "configured, no key" : "built in";
  }

  const configModels = (block?.models ?? []).map(
    (m): SourceModel => ({
      id: m.id,
      upstreamId: m.provider_model_id ?? m.id,
      protocols: m.api_protocol,
      compatibility: m.compatibility?.chat_completions,
      capabilities: m.capabilities,
      contextLength: m.context_length,
    }),
  );
  const catalogModels = (entry?.models ?? []).map((m): SourceModel => ({ id: m, upstreamId: m }));
  const models = configModels.length > 0 ? configModels : catalogModels;
  const modelsFrom = configModels.length > 0 ? "config" : catalogModels.length > 0 ? "catalog" : "none";

  return {
    id,
    label: entry?.label ?? id,
    kind,
    configured: block !== undefined,
    active,
    reason,
    apiBase,
    apiKey,
    protocolRules: block?.api_protocol ?? [{ pattern: "*", protocols: entry?.protocols ?? [inferProtocol(apiBase)] }],
    models,
    modelsFrom,
    discover: block?.auto_discover ?? configModels.length === 0,
    rank: block?.priority ?? KIND_RANK[kind],
    timeouts: resolveTimeouts(config.upstream?.timeouts, block?.timeouts),
  };
}

function resolveTimeouts(global: TimeoutsConfig | undefined, own: TimeoutsConfig | undefined): Timeouts {
  const merged = { ...DEFAULT_TIMEOUTS, ...stripUndefined(global ?? {}), ...stripUndefined(own ?? {}) };
  return {
    connectMs: merged.connect_secs * 1000,
    readMs: merged.read_secs * 1000,
    totalMs: merged.total_secs == null ? null : merged.total_secs * 1000,
  };
}

/** Host inference of the original: anthropic.com speaks Messages; everything else Chat Completions. */
export function inferProtocol(apiBase: string): Protocol {
  return apiBase.toLowerCase().includes("anthropic.com") ? "messages" : "chat_completions";
}

/**
 * The wire protocol for `modelId` at `source`: per-model list, else the most specific
 * provider pattern, else inference; the inbound protocol wins when the source speaks it.
 */
export function chooseProtocol(source: Source, model: SourceModel | undefined, modelId: string, inbound: Protocol): Protocol {
  const list = model?.protocols ?? mostSpecificRule(source.protocolRules, modelId)?.protocols ?? [inferProtocol(source.apiBase)];
  return list.includes(inbound) ? inbound : list[0]!;
}

function mostSpecificRule(rules: ProtocolRule[], modelId: string): ProtocolRule | undefined {
  let best: ProtocolRule | undefined;
  let bestScore = -1;
  for (const rule of rules) {
    const score = patternScore(rule.pattern, modelId);
    if (score >= bestScore && score >= 0) {
      best = rule;
      bestScore = score;
    }
  }
  return best;
}

function patternScore(pattern: string, modelId: string): number {
  if (pattern === "*") return 0;
  if (pattern.endsWith("*")) return modelId.startsWith(pattern.slice(0, -1)) ? pattern.length : -1;
  return pattern === modelId ? Number.MAX_SAFE_INTEGER : -1;
}

export function findModel(source: Source, name: string): SourceModel | undefined {
  return source.models.find((m) => m.id === name) ?? source.models.find((m) => m.upstreamId === name);
}

/** A copy of the registry with some sources replaced (discovery results), re-sorted. */
export function withSources(registry: Registry, replaced: Source[]): Registry {
  const next = new Map(registry.sources);
  for (const s of replaced) next.set(s.id, s);
  return { ...registry, sources: inCascadeOrder(next.values()) };
}

/** Sources keyed by id, in cascade order (the order every listing and the bare-name search use). */
export function inCascadeOrder(sources: Iterable<Source>): Map<string, Source> {
  return new Map([...sources].sort(compareCascade).map((s) => [s.id, s]));
}

export function activeSources(registry: Registry): Source[] {
  return [...registry.sources.values()].filter((s) => s.active);
}

function keyVariable(substituted: UnsetVariable[], providerId: string): string | undefined {
  return substituted.find((u) => u.path[0] === "providers" && u.path[1] === providerId && u.path[2] === "api_key")?.name;
}

function unsetIn(unset: UnsetVariable[], providerId: string): string[] {
  return unset.filter((u) => u.path[0] === "providers" && u.path[1] === providerId).map((u) => u.name);
}

function isPrivateHost(apiBase: string): boolean {
  let host: string;
  try {
    host = new URL(apiBase).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return false;
  }
  if (host === "localhost" || host.endsWith(".local") || host.endsWith(".lan") || host.endsWith(".internal")) return true;
  if (isIP(host) === 6) return host === "::1" || host.startsWith("fc") || host.startsWith("fd") || host.startsWith("fe80");
  if (isIP(host) !== 4) return false;
  const [a, b] = host.split(".").map(Number) as [number, number];
  return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31) || (a === 100 && b >= 64 && b <= 127);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
