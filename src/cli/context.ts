// Config loading shared by the commands: the same registry the server builds.
import { ConfigError, formatProblem, type LoadedConfig, loadConfig } from "../config/load.ts";
import { join, resolve } from "node:path";
import { createLogger } from "../log.ts";
import { type CredentialFile, CredentialFileError, type CredentialStore, createCredentialStore, credentialsPath } from "../subscriptions/credentials.ts";
import { applyDetection, detectionRound, detectSettings } from "../sources/detect.ts";
import { discoverModels } from "../sources/discover.ts";
import { buildRegistry, type Registry } from "../sources/registry.ts";
import { createUpstreamClient, tcpConnectProbe } from "../upstream/client.ts";
import type { Io } from "./io.ts";

export interface Loaded {
  loaded: LoadedConfig;
  registry: Registry;
}

/** `$BITROUTER_HOME`, default `~/.bitrouter`: where credentials.json lives. */
export function bitrouterHome(io: Pick<Io, "env" | "cwd" | "homeDir">): string {
  return io.env.BITROUTER_HOME ? resolve(io.cwd, io.env.BITROUTER_HOME) : join(io.homeDir, ".bitrouter");
}

export function credentialStore(io: Pick<Io, "env" | "cwd" | "homeDir">): CredentialStore {
  return createCredentialStore(credentialsPath(bitrouterHome(io)));
}

/** Config, the stored logins and the registry they make; prints warnings to stderr. Throws ConfigError. */
export function loadRegistry(io: Io, configFlag: string | undefined): Loaded {
  const loaded = loadConfig({ explicit: configFlag, cwd: io.cwd, env: io.env, homeDir: io.homeDir });
  for (const warning of loaded.warnings) io.stderr(`${formatProblem(warning)}\n`);
  return { loaded, registry: buildRegistry(loaded, io.env, storedLogins(io)) };
}

/** The stored logins; an unreadable file is reported and counts as none. */
export function storedLogins(io: Io): CredentialFile {
  try {
    return credentialStore(io).load();
  } catch (err) {
    if (!(err instanceof CredentialFileError)) throw err;
    io.stderr(`warning: ${err.message}\n`);
    return {};
  }
}

export function printConfigError(io: Io, err: ConfigError, outcome = "in the config; nothing was started."): void {
  for (const warning of err.warnings) io.stderr(`${formatProblem(warning)}\n`);
  io.stderr(`${err.message}\n`);
  const count = err.problems.length;
  io.stderr(`${count} problem${count === 1 ? "" : "s"} ${outcome}\n`);
}

/**
 * The registry as a server would have it: models discovered, local servers detected (both
 * bounded, side by side). `discover: false` skips discovery (quick commands). Throws ConfigError.
 */
export async function loadDiscovered(io: Io, configFlag: string | undefined, options: { discover?: boolean } = {}): Promise<Registry> {
  const { registry, loaded } = loadRegistry(io, configFlag);
  const log = createLogger({ level: "warn", write: io.stderr });
  const upstream = createUpstreamClient({ fetch, probe: tcpConnectProbe, env: io.env });
  const settings = detectSettings(loaded.config, io.env);
  const [discovered, detected] = await Promise.all([
    options.discover === false ? registry : discoverModels(registry, { upstream, log }),
    detectionRound(settings, [], { upstream }),
  ]);
  return applyDetection(discovered, detected, settings);
}

/** Runs a config load; a ConfigError is printed and gives undefined (the command then exits 1). */
export async function loadOrReport<T>(io: Io, load: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printConfigError(io, err);
    return undefined;
  }
}
