// Config + environment + catalog → the set of model sources, each active or inactive with
// the reason in words. A Registry is immutable; reload and discovery build a new one.
import { isIP } from "node:net";
import type { LoadedConfig, UnsetVariable } from "../config/load.ts";
import { skipsAuth } from "../config/load.ts";
import { DEFAULT_LISTEN } from "../config/listen.ts";
import type { AccountStrategy, Compatibility, ConfigFile, Protocol, ProtocolRule, ProviderConfig, TimeoutsConfig } from "../config/schema.ts";
import { DEFAULT_HEALTH, type HealthPolicy } from "../state/health.ts";
import type { Price } from "../ledger/prices.ts";
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
  /** Its `pricing:` from the config, in USD per million tokens. */
  pricing?: Price;
}

export interface Timeouts {
  connectMs: number;
  readMs: number;
  totalMs: number | null;
}

/**
 * One credential of a source (SPEC §16). A source without `accounts:` has one, labelled
 * `default`, with the source's own key and base; a plan has one per stored login.
 */
export interface Account {
  label: string;
  /** This account's own base URL, over the source's. */
  apiBase?: string;
  /** This account's own key, over the source's. Secret: never logged or printed. */
  apiKey?: string;
  active: boolean;
  reason: string;
}

/** The account a source has when none is declared. */
export const DEFAULT_ACCOUNT: Account = { label: "default", active: true, reason: "" };

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
  /** At least one; the active ones are tried in `accountStrategy` order. */
  accounts: Account[];
  /** Declared with `accounts:` or several logins: names the account wherever the source is named. */
  multiAccount: boolean;
  accountStrategy: AccountStrategy;
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
  health: HealthPolicy;
  /** Window utilisation (0–1) above which a plan account is demoted until the window resets. */
  spillAt: number;
  /** How long a conversation stays bound to its account after its last request. */
  sessionTtlMs: number;
  usage: { enabled: boolean; retentionDays: number };
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
    const source = buildSource(id, block, catalogEntry(id), config, env, loaded.unset, keyVariable(loaded.substituted, id));
    const logins = isPlanId(id) ? credentials[id] : undefined;
    return logins && Object.keys(logins).length > 0 && block?.active !== false ? onPlan(source, id as PlanId, logins, block, env, now) : source;
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

/**
 * A logged-in plan: the source runs on the subscription (flat-rate tokens) instead of a key. Its
 * accounts are the labels declared under `accounts:`, else every stored login (`default` first).
 */
function onPlan(source: Source, plan: PlanId, logins: Record<string, OAuthCredential>, block: ProviderConfig | undefined, env: Record<string, string | undefined>, now: number): Source {
  const planInfo = planFor(plan, env);
  const apiBase = block?.api_base ? source.apiBase : planInfo.apiBase;
  const declared = block?.accounts?.map((a, i) => ({ label: a.label ?? `account-${i + 1}`, ...(a.api_base ? { apiBase: trimSlash(a.api_base) } : {}) }));
  const stored = Object.keys(logins).sort((a, b) => Number(b === "default") - Number(a === "default") || a.localeCompare(b));
  const accounts = (declared ?? stored.map((label) => ({ label }))).map((a): Account => {
    const login = logins[a.label];
    return login ? { ...a, active: true, reason: describeLogin(login, now) } : { ...a, active: false, reason: `not logged in (run \`bitrouter login ${plan} --label ${a.label}\`)` };
  });
  const active = accounts.filter((a) => a.active);
  return {
    ...source,
    kind: "subscription",
    label: planInfo.label,
    active: active.length > 0,
    reason: active.length === 0 ? `no declared account is logged in (run \`bitrouter login ${plan} --label ${accounts[0]!.label}\`)` : accounts.length === 1 ? accounts[0]!.reason : `${active.length} of ${accounts.length} accounts logged in`,
    apiBase,
    apiKey: undefined,
    protocolRules: [{ pattern: "*", protocols: [plan === "anthropic" ? "messages" : "responses"] }],
    rank: block?.priority ?? KIND_RANK.subscription,
    plan,
    streamOnly: plan === "openai-codex",
    // Discovery sends no login token; a plan's models come from the catalog and the config.
    discover: false,
    accounts,
    multiAccount: accounts.length > 1 || declared !== undefined,
  };
}

export function describeLogin(login: OAuthCredential, now = Date.now()): string {
  const who = login.account?.email ? ` as ${login.account.email}` : "";
  const plan = login.account?.plan ? ` (${login.account.plan})` : "";
  const expiry = new Date(login.expires_at * 1000);
  if (!login.expires_at || Number.isNaN(expiry.getTime())) return `logged in${who}${plan}`;
  const until = expiry.toISOString().replace(/:\d\d\.\d+Z$/, " UTC").replace("T", " ");
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
    health: healthPolicy(config.health),
    spillAt: config.subscriptions?.spill_at ?? DEFAULT_SPILL_AT,
    sessionTtlMs: (config.subscriptions?.session_ttl_secs ?? DEFAULT_SESSION_TTL_SECS) * 1000,
    usage: { enabled: config.usage?.enabled ?? true, retentionDays: config.usage?.retention_days ?? 90 },
  };
}

export const DEFAULT_SPILL_AT = 0.95;
export const DEFAULT_SESSION_TTL_SECS = 3600;

function healthPolicy(health: ConfigFile["health"]): HealthPolicy {
  if (health === undefined || health === null) return DEFAULT_HEALTH;
  const minMs = (health.cooldown_min_secs ?? DEFAULT_HEALTH.cooldownMinMs / 1000) * 1000;
  return {
    enabled: health.enabled ?? true,
    allowedFails: health.allowed_fails ?? DEFAULT_HEALTH.allowedFails,
    cooldownMinMs: minMs,
    cooldownMaxMs: Math.max(minMs, (health.cooldown_max_secs ?? DEFAULT_HEALTH.cooldownMaxMs / 1000) * 1000),
  };
}

function buildSource(
  id: string,
  block: ProviderConfig | undefined,
  entry: CatalogEntry | undefined,
  config: ConfigFile,
  env: Record<string, string | undefined>,
  allUnset: UnsetVariable[],
  configKeyVariable: string | undefined,
): Source {
  // A variable unset inside one account disables that account only; anywhere else, the provider.
  const mine = allUnset.filter((u) => u.path[0] === "providers" && u.path[1] === id);
  const unset = mine.filter((u) => u.path[2] !== "accounts").map((u) => u.name);
  const declaredProtocol = block?.api_protocol?.[0]?.protocols[0];
  const apiBase = trimSlash(block?.api_base || (declaredProtocol && entry?.protocolBases?.[declaredProtocol]) || entry?.apiBase || "");
  const kind: SourceKind = block?.kind ?? entry?.kind ?? (isPrivateHost(apiBase) ? "self-hosted" : "api");
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
  } else if (entry?.credential === "api_key" && !apiKey && !block?.accounts) {
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
      pricing: m.pricing?.input_micro_usd_per_token !== undefined && m.pricing.output_micro_usd_per_token !== undefined
        ? {
            input: m.pricing.input_micro_usd_per_token,
            output: m.pricing.output_micro_usd_per_token,
            cacheRead: m.pricing.cache_read_micro_usd_per_token,
            cacheWrite: m.pricing.cache_write_micro_usd_per_token,
          }
        : undefined,
    }),
  );
  const catalogModels = (entry?.models ?? []).map((m): SourceModel => ({ id: m, upstreamId: m }));
  const models = configModels.length > 0 ? configModels : catalogModels;
  const modelsFrom = configModels.length > 0 ? "config" : catalogModels.length > 0 ? "catalog" : "none";

  const declared = block?.accounts;
  let accounts: Account[] = [DEFAULT_ACCOUNT];
  if (declared && active && entry?.credential !== "oauth") {
    accounts = declared.map((a, i): Account => {
      const label = a.label ?? `account-${i + 1}`;
      const missing = mine.filter((u) => u.path[2] === "accounts" && u.path[3] === i).map((u) => u.name);
      const key = a.api_key !== undefined ? a.api_key || undefined : apiKey;
      const own = { label, ...(a.api_base ? { apiBase: trimSlash(a.api_base) } : {}) };
      if (missing.length > 0) return { ...own, active: false, reason: `${[...new Set(missing)].join(", ")} ${missing.length > 1 ? "are" : "is"} not set` };
      if (entry?.credential === "api_key" && !key) return { ...own, active: false, reason: a.api_key === undefined ? `${keyEnv} is not set and the account has no api_key` : "api_key is empty" };
      return { ...own, ...(key ? { apiKey: key } : {}), active: true, reason: a.api_key === undefined ? reason : "own key" };
    });
    const live = accounts.filter((a) => a.active);
    if (live.length === 0) {
      active = false;
      reason = `no account is usable: ${accounts.map((a) => `${a.label} (${a.reason})`).join(", ")}`;
    } else if (accounts.length > 1) {
      reason = `${live.length} of ${accounts.length} accounts usable`;
    }
  }

  return {
    id,
    label: entry?.label ?? id,
    kind,
    configured: block !== undefined,
    active,
    reason,
    apiBase,
    // Discovery asks with the source's key, else its first usable account's.
    apiKey: apiKey ?? accounts.find((a) => a.active)?.apiKey,
    protocolRules: block?.api_protocol ?? [{ pattern: "*", protocols: baseProtocol(entry, block?.api_base ? apiBase : undefined) ?? entry?.protocols ?? [inferProtocol(apiBase)] }],
    models,
    modelsFrom,
    discover: block?.auto_discover ?? configModels.length === 0,
    rank: block?.priority ?? KIND_RANK[kind],
    timeouts: resolveTimeouts(config.upstream?.timeouts, block?.timeouts),
    accounts,
    multiAccount: declared !== undefined,
    accountStrategy: block?.account_strategy ?? "failover",
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

/**
 * A built-in's other endpoint, set as `api_base` without `api_protocol` (a config written when
 * `google` meant Google's OpenAI-compatible endpoint): the protocol that endpoint speaks.
 */
function baseProtocol(entry: CatalogEntry | undefined, apiBase: string | undefined): Protocol[] | undefined {
  if (!entry?.protocolBases || apiBase === undefined) return undefined;
  const match = (Object.entries(entry.protocolBases) as [Protocol, string][]).find(([, base]) => trimSlash(base) === apiBase);
  return match ? [match[0]] : undefined;
}

/**
 * Host inference of the original: anthropic.com speaks Messages; everything else Chat
 * Completions. Added here: Google's Gemini API host speaks generate_content (but its /openai
 * path speaks Chat).
 */
export function inferProtocol(apiBase: string): Protocol {
  const base = apiBase.toLowerCase();
  if (base.includes("anthropic.com")) return "messages";
  if (base.includes("generativelanguage.googleapis.com") && !base.includes("/openai")) return "generate_content";
  return "chat_completions";
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
