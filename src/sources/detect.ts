// Local model servers found without configuration: Ollama (11434, /api/tags), vLLM (8000),
// llama.cpp (8080) and LM Studio (1234) (/v1/models) on loopback, plus any hosts the config
// lists. Probed in parallel, each bounded, at start, periodically and on reload; what answers
// joins the registry as a self-hosted source (first in the cascade: its tokens are free), and
// what stops answering leaves it.
import { isLoopbackHost } from "../config/listen.ts";
import type { ConfigFile } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { catalogEntry } from "./catalog.ts";
import { readModelList } from "./discover.ts";
import { DEFAULT_ACCOUNT, inCascadeOrder, KIND_RANK, type Registry, type Source, type SourceModel } from "./registry.ts";

export type LocalKind = "ollama" | "vllm" | "llamacpp" | "lmstudio";

export const DEFAULT_PORTS: Record<LocalKind, number> = { ollama: 11434, vllm: 8000, llamacpp: 8080, lmstudio: 1234 };
const KINDS = Object.keys(DEFAULT_PORTS) as LocalKind[];

export interface DetectSettings {
  enabled: boolean;
  intervalMs: number;
  timeoutMs: number;
  hosts: string[];
  /** BitRouter's own listen address: never probed, so a server on a default port cannot find itself. */
  self?: { host: string; port: number };
}

/** From the config's `detect:`; BITROUTER_DETECT_INTERVAL_SECS overrides the interval (tests, tuning). */
export function detectSettings(config: ConfigFile, env: Record<string, string | undefined>): DetectSettings {
  const detect = config.detect;
  const section = typeof detect === "object" && detect !== null ? detect : {};
  const intervalOverride = Number(env.BITROUTER_DETECT_INTERVAL_SECS);
  return {
    enabled: section.enabled ?? true,
    intervalMs: (Number.isFinite(intervalOverride) && intervalOverride > 0 ? intervalOverride : (section.interval_secs ?? 10)) * 1000,
    timeoutMs: section.timeout_ms ?? 400,
    hosts: section.hosts ?? [],
  };
}

export interface ProbeTarget {
  host: string;
  port: number;
  /** Known from a default port; unknown for `host:port` entries (tried as Ollama, then OpenAI-compatible). */
  kind?: LocalKind;
}

export function probeTargets(settings: DetectSettings): ProbeTarget[] {
  const targets: ProbeTarget[] = KINDS.map((kind) => ({ host: "127.0.0.1", port: DEFAULT_PORTS[kind], kind }));
  for (const entry of settings.hosts) {
    const match = /^(.+):(\d{1,5})$/.exec(entry);
    if (match) targets.push({ host: match[1]!, port: Number(match[2]) });
    else for (const kind of KINDS) targets.push({ host: entry, port: DEFAULT_PORTS[kind], kind });
  }
  const self = settings.self;
  if (!self) return targets;
  const isSelf = (t: ProbeTarget) => t.port === self.port && (t.host === self.host || (isLoopbackHost(t.host) && (isLoopbackHost(self.host) || isAnyAddress(self.host))));
  return targets.filter((t) => !isSelf(t));
}

function isAnyAddress(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

export interface DetectedServer {
  id: string;
  kind: LocalKind;
  origin: string;
  apiBase: string;
  models: SourceModel[];
  /** Unix ms. */
  detectedAt: number;
}

export async function detectServers(targets: ProbeTarget[], deps: { upstream: UpstreamClient; timeoutMs: number; now?: () => number }): Promise<DetectedServer[]> {
  const found = await Promise.all(targets.map((target) => probe(target, deps).catch(() => null)));
  return found.filter((s): s is DetectedServer => s !== null);
}

async function probe(target: ProbeTarget, deps: { upstream: UpstreamClient; timeoutMs: number; now?: () => number }): Promise<DetectedServer | null> {
  const origin = `http://${target.host}:${target.port}`;
  const get = async (path: string, body?: unknown): Promise<unknown> => {
    const response = await deps.upstream.send({
      url: `${origin}${path}`,
      method: body === undefined ? "GET" : "POST",
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeouts: { connectMs: deps.timeoutMs, readMs: deps.timeoutMs, totalMs: deps.timeoutMs },
    });
    const text = await response.text(4 * 1024 * 1024);
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    return JSON.parse(text);
  };
  // The default address of a kind is that kind's built-in source (`ollama`); anything else is named for its address.
  const local = target.host === "127.0.0.1" || target.host === "localhost";
  const idFor = (kind: LocalKind) => (local && target.port === DEFAULT_PORTS[kind] ? kind : `${kind}@${target.host}${target.port === DEFAULT_PORTS[kind] ? "" : `-${target.port}`}`);
  const detectedAt = (deps.now ?? Date.now)();

  if (target.kind === "ollama" || target.kind === undefined) {
    const tags = await get("/api/tags").catch(() => undefined);
    const list = (tags as { models?: { name?: string; model?: string }[] } | undefined)?.models;
    if (Array.isArray(list)) {
      const models = (await Promise.all(list.map((m) => ollamaModels(m.name ?? m.model ?? "", get)))).flat();
      return { id: idFor("ollama"), kind: "ollama", origin, apiBase: `${origin}/v1`, models, detectedAt };
    }
    if (target.kind === "ollama") return null;
  }
  const listed = await get("/v1/models").catch(() => undefined);
  if (listed === undefined) return null;
  const models = readModelList(listed);
  const kind = target.kind ?? "vllm";
  return { id: idFor(kind), kind, origin, apiBase: `${origin}/v1`, models, detectedAt };
}

/** One Ollama model, with what /api/show says about it; `name:latest` is also served as `name`. */
async function ollamaModels(name: string, get: (path: string, body?: unknown) => Promise<unknown>): Promise<SourceModel[]> {
  if (!name) return [];
  const facts: Pick<SourceModel, "capabilities" | "contextLength"> = {};
  const shown = (await get("/api/show", { model: name }).catch(() => undefined)) as { capabilities?: string[]; model_info?: Record<string, unknown> } | undefined;
  if (shown) {
    const caps = shown.capabilities ?? [];
    // An embedding-only model cannot chat: not a chat source.
    if (caps.includes("embedding") && !caps.includes("completion")) return [];
    const mapped = caps.map((c) => ({ tools: "tools", vision: "image_input", thinking: "reasoning" })[c]).filter((c): c is string => c !== undefined);
    if (mapped.length > 0) facts.capabilities = mapped;
    const context = Object.entries(shown.model_info ?? {}).find(([key, value]) => key.endsWith(".context_length") && typeof value === "number");
    if (context) facts.contextLength = context[1] as number;
  }
  const models: SourceModel[] = [{ id: name, upstreamId: name, ...facts }];
  if (name.endsWith(":latest")) models.unshift({ id: name.slice(0, -":latest".length), upstreamId: name, ...facts });
  return models;
}

/**
 * The registry with detected servers in it: a built-in local source that is not configured
 * becomes active (`ollama`), any other server is added (`ollama@gpu-box`). A server whose address
 * a configured provider already uses is left to that provider.
 */
export function applyDetection(registry: Registry, detected: DetectedServer[], settings: DetectSettings): Registry {
  const sources = new Map(registry.sources);
  const configuredOrigins = new Set([...sources.values()].filter((s) => s.configured && s.active).map((s) => originOf(s.apiBase)));
  for (const server of detected) {
    if (configuredOrigins.has(server.origin) || server.models.length === 0) continue;
    const existing = sources.get(server.id);
    if (existing?.configured) continue;
    const entry = catalogEntry(server.kind);
    const source: Source = {
      ...(existing ?? blankSource(server.id, registry.settings.sourceTimeouts)),
      id: server.id,
      label: entry?.label ?? server.kind,
      kind: "self-hosted",
      configured: false,
      active: true,
      reason: `detected at ${server.origin} at ${new Date(server.detectedAt).toISOString().slice(11, 19)} UTC`,
      apiBase: server.apiBase,
      models: server.models,
      modelsFrom: "detection",
      discover: false,
      rank: KIND_RANK["self-hosted"],
    };
    sources.set(server.id, source);
  }
  if (settings.enabled) {
    for (const kind of KINDS) {
      const source = sources.get(kind);
      if (source && !source.configured && !source.active) sources.set(kind, { ...source, reason: `not configured, and nothing answers on 127.0.0.1:${DEFAULT_PORTS[kind]}` });
    }
  }
  return { ...registry, sources: inCascadeOrder(sources.values()) };
}

function blankSource(id: string, timeouts: Source["timeouts"]): Source {
  return {
    id,
    label: id,
    kind: "self-hosted",
    configured: false,
    active: true,
    reason: "",
    apiBase: "",
    apiKey: undefined,
    protocolRules: [{ pattern: "*", protocols: ["chat_completions"] }],
    models: [],
    modelsFrom: "none",
    discover: false,
    accounts: [DEFAULT_ACCOUNT],
    multiAccount: false,
    accountStrategy: "failover",
    rank: KIND_RANK["self-hosted"],
    timeouts,
  };
}

function originOf(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname === "localhost" ? "127.0.0.1" : u.hostname;
    return `${u.protocol}//${host}:${u.port || (u.protocol === "https:" ? 443 : 80)}`;
  } catch {
    return url;
  }
}

export interface DetectionDeps {
  upstream: UpstreamClient;
  log?: Logger;
}

/** One round: what answers now. Logs servers that appeared or went away since `previous`. */
export async function detectionRound(settings: DetectSettings, previous: DetectedServer[], deps: DetectionDeps): Promise<DetectedServer[]> {
  if (!settings.enabled) return [];
  const now = await detectServers(probeTargets(settings), { upstream: deps.upstream, timeoutMs: settings.timeoutMs });
  const before = new Map(previous.map((s) => [s.id, s]));
  for (const server of now) {
    const old = before.get(server.id);
    if (!old) deps.log?.info("local server detected", { provider: server.id, origin: server.origin, models: server.models.length });
    else if (old.models.map((m) => m.id).join() !== server.models.map((m) => m.id).join()) deps.log?.info("local server models changed", { provider: server.id, models: server.models.length });
  }
  for (const old of previous) if (!now.some((s) => s.id === old.id)) deps.log?.info("local server gone", { provider: old.id, origin: old.origin });
  return now;
}
