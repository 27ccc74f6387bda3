// `bitrouter` / `bitrouter serve`: start the proxy in the foreground until SIGINT/SIGTERM;
// SIGHUP reloads the config (in-flight requests keep the registry they started with).
import { createLiveFeed } from "../../live/feed.ts";
import { mkdirSync, watch } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ConfigError, formatProblem, loadConfig } from "../../config/load.ts";
import { DEFAULT_LISTEN, isLoopbackHost, parseListen } from "../../config/listen.ts";
import { createLogger, type Logger } from "../../log.ts";
import { createApp } from "../../server/app.ts";
import { startServer } from "../../server/serve.ts";
import { type DetectSettings, detectSettings } from "../../sources/detect.ts";
import { discoverModels } from "../../sources/discover.ts";
import { createLiveRegistry, type LiveRegistry } from "../../sources/live-registry.ts";
import { activeSources, buildRegistry, findModel, type Registry } from "../../sources/registry.ts";
import { createLedger } from "../../ledger/ledger.ts";
import { priceFor } from "../../ledger/prices.ts";
import { summarizeInChild } from "../../ledger/summary-process.ts";
import { createSubscriptionAuth } from "../../subscriptions/tokens.ts";
import { createSharedLogins } from "../../subscriptions/shared-logins.ts";
import { createRedisLink, redactRedisUrl, type RedisLink } from "../../state/redis.ts";
import { createSharedState } from "../../state/shared-state.ts";
import { createMemoryState, type TargetState } from "../../state/target-state.ts";
import { createUsageStream, type UsageStream } from "../../ledger/redis-stream.ts";
import { createUpstreamClient, tcpConnectProbe, type UpstreamClient } from "../../upstream/client.ts";
import { VERSION } from "../../version.ts";
import { CONFIG_OPTION, HELP_OPTION, parseCommandArgs, UsageError } from "../args.ts";
import { bitrouterHome, credentialStore, loadOrReport, loadRegistry, storedLogins } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const serveHelp = `Usage: bitrouter [serve] [-c PATH] [--listen HOST:PORT]

Start the proxy in the foreground (default ${DEFAULT_LISTEN}).
  -c, --config PATH     config file (default: ./bitrouter.yaml, $BITROUTER_HOME, ~/.bitrouter)
      --listen HOST:PORT  override server.listen (port 0 picks a free port)
SIGINT/SIGTERM stop gracefully; SIGHUP reloads the config.
`;

export interface ServeSignals {
  /** Registers a handler; returns a function that removes it. */
  on(signal: "SIGINT" | "SIGTERM" | "SIGHUP", handler: () => void): () => void;
}

export const processSignals: ServeSignals = {
  on(signal, handler) {
    process.on(signal, handler);
    return () => process.off(signal, handler);
  },
};

export async function serveCommand(argv: string[], io: Io, signals: ServeSignals = processSignals): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...HELP_OPTION, listen: { type: "string" } });
  if (values.help) {
    io.stdout(serveHelp);
    return EXIT_OK;
  }

  const loadedRegistry = await loadOrReport(io, () => loadRegistry(io, values.config));
  if (!loadedRegistry) return EXIT_FAILURE;
  const { registry, loaded } = loadedRegistry;

  const listenText = values.listen ?? registry.settings.listen;
  const listen = parseListen(listenText);
  if (!listen) throw new UsageError(`--listen '${listenText}' is not HOST:PORT (for example 127.0.0.1:4356)`);
  if (!isLoopbackHost(listen.host) && registry.settings.skipAuth) {
    io.stderr(`error: refusing to listen on ${listenText} with auth off (skip_auth); anyone who can reach it could spend your tokens.\n    fix: set server.api_keys (and skip_auth: false), or listen on 127.0.0.1\n`);
    return EXIT_FAILURE;
  }

  const log = createLogger({ level: registry.settings.logLevel, write: io.stderr });
  const upstream = createUpstreamClient({ fetch, probe: tcpConnectProbe, env: io.env });
  const store = credentialStore(io);
  // Several instances (SPEC §20): the router's memory, plan logins and usage rows go through Redis.
  const shared = loaded.config.state?.redis ? openShared(loaded.config.state.redis, loaded.config.state.prefix ?? "bitrouter", log) : undefined;
  const subscriptions = createSubscriptionAuth({ store, env: io.env, fetch, log, shared: shared?.logins });
  const live = createLiveRegistry(registry, { ...detectSettings(loaded.config, io.env), self: listen }, { upstream, log });
  // The ledger lives beside the credentials. It opens its file with the first row, and records
  // while the current config says `usage:` is on (a reload may switch it either way).
  const ledger = createLedger({
    path: join(bitrouterHome(io), "usage.db"),
    log,
    priceOf: (provider, model) => {
      const source = live.current().sources.get(provider);
      return priceFor(model, source ? findModel(source, model)?.pricing : undefined);
    },
    retentionDays: () => live.current().settings.usage.retentionDays,
    enabled: () => live.current().settings.usage.enabled,
    copyTo: shared ? (row) => shared.usage.append(row) : undefined,
  });
  const tail = createLiveFeed();
  const app = createApp({ registry: live.current, upstream, log, subscriptions, ledger, summarizeUsage: summarizeInChild, live: tail, state: shared?.state, shared: shared && (() => ({ redis: redactRedisUrl(shared.url), prefix: shared.prefix, up: shared.link.up })) });
  let server: ReturnType<typeof startServer>;
  try {
    server = startServer(app, { host: listen.host, port: listen.port });
  } catch (err) {
    io.stderr(`error: cannot listen on ${listenText}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }

  // Listening already (so /health answers at once). Before the banner: sources without declared
  // models are asked for theirs (bounded by upstream.discovery_timeout_secs) while local servers
  // are probed (bounded by detect.timeout_ms), side by side.
  // Redis's first answer (or failure, within its connect timeout) is part of getting ready.
  const [discovered] = await Promise.all([discoverModels(registry, { upstream, log }), live.refresh(), shared?.link.ready()]);
  live.setBase(discovered);
  live.start();
  io.stdout(banner(live.current(), server.url, shared && { where: `${redactRedisUrl(shared.url)} (prefix ${shared.prefix})`, up: shared.link.up }));

  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(() => reloadConfig(io, values.config, log, upstream, live, listenText, listen, loaded.config.state ?? null));
  };
  // A login or logout in another terminal takes effect without a restart.
  const stopWatching = watchFile(store.path, reload);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      const grace = live.current().settings.shutdownGraceMs;
      log.info("stopping", { signal, grace_secs: grace / 1000 });
      for (const remove of removers) remove();
      stopWatching();
      live.stop();
      // Open dashboards follow the live tail for ever: end it, or every stop waits out the grace.
      tail.close();
      server.stop(grace).then(async () => {
        ledger?.close();
        if (shared) {
          await shared.usage.flush();
          shared.link.close();
        }
        log.info("stopped");
        resolve(EXIT_OK);
      });
    };
    const removers = [signals.on("SIGINT", () => stop("SIGINT")), signals.on("SIGTERM", () => stop("SIGTERM")), signals.on("SIGHUP", reload)];
  });
}

async function reloadConfig(io: Io, configFlag: string | undefined, log: Logger, upstream: UpstreamClient, live: LiveRegistry, listenText: string, listen: DetectSettings["self"], stateAtStart: unknown): Promise<void> {
  const previous = live.current();
  let next: Registry;
  let settings: DetectSettings;
  let stateNow: unknown;
  try {
    const loaded = loadConfig({ explicit: configFlag, cwd: io.cwd, env: io.env, homeDir: io.homeDir });
    for (const warning of loaded.warnings) log.warn("config warning", { problem: formatProblem(warning) });
    next = await discoverModels(buildRegistry(loaded, io.env, storedLogins(io)), { upstream, log });
    settings = { ...detectSettings(loaded.config, io.env), self: listen };
    stateNow = loaded.config.state ?? null;
  } catch (err) {
    const detail = err instanceof ConfigError ? err.message : (err as Error).message;
    log.error("reload failed; the previous config stays in force", { error: detail });
    return;
  }
  if (JSON.stringify(stateNow) !== JSON.stringify(stateAtStart)) {
    log.warn("state: changed; it takes effect at the next start (each instance keeps the Redis it started with)");
  }
  if (next.settings.listen !== previous.settings.listen && next.settings.listen !== listenText) {
    log.warn("server.listen changed; it takes effect at the next start", { listen: next.settings.listen });
  }
  await live.replaceBase(next, settings);
  const active = activeSources(live.current()).map((s) => s.id);
  log.info("config reloaded", { config: next.configPath ?? "built-in defaults", active_sources: active.join(",") || "none" });
}

/** Calls `onChange` (debounced) when `path` is written, created or removed; returns a stop function. */
function watchFile(path: string, onChange: () => void): () => void {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watcher = watch(folder, (_event, name) => {
      if (name !== basename(path)) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 200);
    });
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  } catch {
    return () => {};
  }
}

interface Shared {
  url: string;
  prefix: string;
  link: RedisLink;
  state: TargetState;
  logins: ReturnType<typeof createSharedLogins>;
  usage: UsageStream;
}

function openShared(url: string, prefix: string, log: Logger): Shared {
  const link = createRedisLink({ url, log });
  const state = createSharedState({ local: createMemoryState(), link, prefix, instanceId: crypto.randomUUID(), log });
  return { url, prefix, link, state, logins: createSharedLogins(link, prefix), usage: createUsageStream({ link, prefix, log }) };
}

export function banner(registry: Registry, url: URL, shared?: { where: string; up: boolean }): string {
  const lines = [`bitrouter ${VERSION}`];
  lines.push(`config:  ${registry.configPath ?? "built-in defaults (no config file found)"}`);
  const base = url.href.replace(/\/$/, "");
  lines.push(`listen:  ${base}  (OpenAI base URL ${base}/v1, Anthropic and Gemini base URL ${base})`);
  lines.push(`dashboard: ${base}/`);
  if (shared) lines.push(`state:   shared through ${shared.where}${shared.up ? "" : ", unreachable for now: this instance goes on with its own until it answers"}`);
  lines.push(`auth:    ${registry.settings.skipAuth ? "off (skip_auth)" : `API key required (${registry.settings.apiKeys.length} configured)`}`);
  lines.push("sources:");
  const width = Math.max(...[...registry.sources.keys()].map((id) => id.length));
  const sources = [...registry.sources.values()].sort((a, b) => Number(b.active) - Number(a.active));
  for (const source of sources) {
    const state = source.active ? "active  " : "inactive";
    let detail: string;
    if (source.active) {
      const count = source.models.length;
      const models = `${count} model${count === 1 ? "" : "s"}${source.modelsFrom === "none" ? "" : ` (${source.modelsFrom})`}`;
      const discovery = source.discoveryError ? `; discovery failed: ${source.discoveryError}` : "";
      detail = `${source.kind}, ${source.apiBase}, ${models}${discovery}; ${source.reason}`;
    } else {
      detail = source.reason;
    }
    lines.push(`  ${source.id.padEnd(width)}  ${state}  ${detail}`);
  }
  if (registry.virtualModels.size > 0) {
    lines.push("virtual models:");
    for (const vm of registry.virtualModels.values()) {
      lines.push(`  ${vm.name} → ${vm.endpoints.map((e) => `${e.provider}:${e.serviceId}`).join(", ")}`);
    }
  }
  lines.push(`ready: ${base}`);
  return `${lines.join("\n")}\n`;
}
