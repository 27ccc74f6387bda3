// Find bitrouter.yaml, substitute ${VAR}, parse, validate. Every problem is reported at
// once with file, line and column; unset variables are recorded, not fatal (a provider
// whose key is unset becomes inactive; see sources/registry.ts).
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { closestMatches } from "../did-you-mean.ts";
import { type ConfigFile, configSchema, IGNORED_ORIGINAL_KEYS } from "./schema.ts";
import { BUILTIN_IDS } from "../sources/catalog.ts";
import { isPlanId } from "../subscriptions/plans.ts";
import { parseListen, isLoopbackHost } from "./listen.ts";

export type ConfigPath = (string | number)[];

export interface ConfigProblem {
  severity: "error" | "warning";
  file: string;
  line: number;
  column: number;
  message: string;
  /** How to fix it, when we can tell. */
  hint?: string;
}

export interface UnsetVariable {
  path: ConfigPath;
  name: string;
}

export interface LoadedConfig {
  /** Absolute path of the file, or null for built-in defaults. */
  path: string | null;
  config: ConfigFile;
  warnings: ConfigProblem[];
  /** `${VAR}` references whose variable is unset or empty, by where they occur. */
  unset: UnsetVariable[];
  /** `${VAR}` references that were substituted, by where they occur (for "key from VAR"). */
  substituted: UnsetVariable[];
}

export class ConfigError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    readonly warnings: ConfigProblem[] = [],
  ) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.severity}: ${p.message}${p.hint ? `\n    fix: ${p.hint}` : ""}`;
}

export interface LocateOptions {
  /** `-c PATH`: must exist. */
  explicit?: string;
  cwd: string;
  env: Record<string, string | undefined>;
  homeDir: string;
}

/** SPEC §3: -c PATH → ./bitrouter.yaml → $BITROUTER_HOME/bitrouter.yaml → ~/.bitrouter/bitrouter.yaml → none. */
export function locateConfig(opts: LocateOptions): string | null {
  if (opts.explicit !== undefined) {
    const path = isAbsolute(opts.explicit) ? opts.explicit : resolve(opts.cwd, opts.explicit);
    if (!existsSync(path)) {
      throw new ConfigError([
        { severity: "error", file: path, line: 0, column: 0, message: "config file not found", hint: "check the -c path, or create one with `bitrouter init -c " + opts.explicit + "`" },
      ]);
    }
    return path;
  }
  const candidates = [join(opts.cwd, "bitrouter.yaml")];
  if (opts.env.BITROUTER_HOME) candidates.push(join(resolve(opts.cwd, opts.env.BITROUTER_HOME), "bitrouter.yaml"));
  candidates.push(join(opts.homeDir, ".bitrouter", "bitrouter.yaml"));
  return candidates.find((p) => existsSync(p)) ?? null;
}

export function loadConfig(opts: LocateOptions): LoadedConfig {
  const path = locateConfig(opts);
  if (path === null) return { path: null, config: {}, warnings: [], unset: [], substituted: [] };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([{ severity: "error", file: path, line: 0, column: 0, message: `cannot read config: ${(err as Error).message}` }]);
  }
  return { ...parseConfigText(text, path, opts.env), path };
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** `${VAR}` and `${VAR:-default}`; an unset or empty VAR without default yields "" and is reported. */
export function substituteVariables(text: string, env: Record<string, string | undefined>): { value: string; unset: string[]; used: string[] } {
  const unset: string[] = [];
  const used: string[] = [];
  const value = text.replace(VARIABLE, (_whole, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== "") {
      used.push(name);
      return found;
    }
    if (fallback !== undefined) return fallback;
    unset.push(name);
    return "";
  });
  return { value, unset, used };
}

/**
 * The document as plain values. Aliases are checked first: one without its anchor, or so many
 * that expanding them would exhaust memory (an alias bomb), is a config error with a position,
 * never the YAML library's exception.
 */
function toPlain(doc: Document, lineCounter: LineCounter, file: string): unknown {
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { file, line: pos.line, column: pos.col };
  };
  visit(doc, {
    Alias(_, alias) {
      if (!alias.resolve(doc)) problems.push({ severity: "error", ...at(alias.range?.[0]), message: `alias '*${alias.source}' has no anchor '&${alias.source}' before it; define the anchor first or write the value out` });
    },
  });
  if (problems.length > 0) throw new ConfigError(problems);
  try {
    return doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    let first: number | undefined;
    visit(doc, {
      Alias(_, alias) {
        first ??= alias.range?.[0];
        return visit.BREAK;
      },
    });
    const why = /alias count/i.test((err as Error).message) ? "its aliases expand to too much data (an alias bomb)" : (err as Error).message;
    throw new ConfigError([{ severity: "error", ...at(first), message: `invalid YAML: ${why}; write the values out instead of nesting aliases` }]);
  }
}

export function parseConfigText(text: string, file: string, env: Record<string, string | undefined>): Omit<LoadedConfig, "path"> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const locate = new Locator(doc, lineCounter, file);

  const syntax = doc.errors.map((e): ConfigProblem => {
    const pos = e.linePos?.[0];
    return { severity: "error", file, line: pos?.line ?? 0, column: pos?.col ?? 0, message: `invalid YAML: ${e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, "")}` };
  });
  if (syntax.length > 0) throw new ConfigError(syntax);

  // Substitute in values only (comments are not part of the tree, so they are never touched).
  const unset: UnsetVariable[] = [];
  const substituted: UnsetVariable[] = [];
  walkScalars(doc.contents, [], (scalar, path) => {
    if (typeof scalar.value !== "string" || !scalar.value.includes("${")) return;
    const result = substituteVariables(scalar.value, env);
    scalar.value = result.value;
    for (const name of result.unset) unset.push({ path, name });
    for (const name of result.used) substituted.push({ path, name });
  });

  const warnings: ConfigProblem[] = [];
  const raw: unknown = toPlain(doc, lineCounter, file);
  if (!isPlainObject(raw)) {
    throw new ConfigError([{ ...locate.at([]), severity: "error", message: "the config must be a mapping of keys (server, upstream, providers, models)" }]);
  }
  stripIgnoredKeys(raw, [], (path) => {
    warnings.push({ ...locate.at(path, true), severity: "warning", message: `'${path.join(".")}' is a key of the original BitRouter that this version ignores` });
  });

  const parsed = configSchema.safeParse(raw);
  const errors: ConfigProblem[] = parsed.success ? [] : parsed.error.issues.flatMap((issue) => describeIssue(issue, locate, doc));
  // Cross-references are checked even when the shape is wrong somewhere, so that one run
  // reports everything it can.
  try {
    for (const problem of semanticProblems(parsed.success ? parsed.data : (raw as ConfigFile), locate)) (problem.severity === "error" ? errors : warnings).push(problem);
  } catch {
    // the raw shape was too broken to cross-check; the schema errors say why
  }

  // A provider whose variable is unset becomes inactive (sources/registry.ts); an unset API
  // key is dropped; anywhere else an unset variable has no graceful reading.
  for (const u of unset) {
    const [top, section] = u.path;
    if (top === "providers") continue;
    if (top === "server" && section === "api_keys") {
      warnings.push({ ...locate.at(u.path), severity: "warning", message: `${u.name} is not set; server.api_keys[${u.path[2]}] is ignored` });
      continue;
    }
    errors.push({ ...locate.at(u.path), severity: "error", message: `${u.name} is not set (used at ${u.path.join(".")})`, hint: `set ${u.name}, or give a default: \${${u.name}:-value}` });
  }

  if (errors.length > 0 || !parsed.success) throw new ConfigError(sortProblems(errors), warnings);
  return { config: parsed.data, warnings: sortProblems(warnings), unset, substituted };
}

/** Endpoint paths BitRouter appends to api_base (one per protocol). */
const ENDPOINT_SUFFIX = /\/(chat\/completions|completions|messages|responses)$/;
const MIN_BODY_LIMIT_MB = 0.01;
/** The shortest timeouts a real source can meet, in seconds. */
const TIMEOUT_FLOORS: Record<string, number> = { connect_secs: 0.1, read_secs: 1, total_secs: 1 };
const TIMEOUT_DEFAULTS: Record<string, string> = { connect_secs: "10", read_secs: "300", total_secs: "none" };

/** An api_base that cannot work: not an http(s) URL, or ending in the endpoint path BitRouter appends. */
function baseProblems(base: string, path: ConfigPath, locate: Locator): ConfigProblem[] {
  const name = path.join(".");
  let url: URL | undefined;
  try {
    url = new URL(base);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return [{ ...locate.at(path), severity: "error", message: `${name} '${base}' is not an http(s) URL`, hint: "for example http://localhost:11434/v1" }];
  }
  // The endpoint path is appended per protocol: a base that already ends in one 404s every request.
  const endpoint = ENDPOINT_SUFFIX.exec(url.pathname.replace(/\/+$/, ""))?.[0];
  if (!endpoint) return [];
  return [
    {
      ...locate.at(path),
      severity: "error",
      message: `${name} ends in '${endpoint}', which BitRouter appends itself (every request would go to …${endpoint}${endpoint})`,
      hint: `api_base: ${base.replace(/\/+$/, "").slice(0, -endpoint.length)}`,
    },
  ];
}

function semanticProblems(config: ConfigFile, locate: Locator): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const providerIds = new Set([...Object.keys(config.providers ?? {}), ...BUILTIN_IDS]);

  const listen = config.server?.listen;
  // An empty listen comes from an unset ${VAR}, reported on its own.
  if (listen !== undefined && listen !== "") {
    const parsedListen = parseListen(listen);
    if (!parsedListen) {
      problems.push({ ...locate.at(["server", "listen"]), severity: "error", message: `server.listen '${listen}' is not HOST:PORT`, hint: "for example 127.0.0.1:4356" });
    } else if (!isLoopbackHost(parsedListen.host) && skipsAuth(config)) {
      problems.push({
        ...locate.at(["server", "listen"]),
        severity: "error",
        message: `server.listen '${listen}' is not a loopback address, and auth is off (skip_auth)`,
        hint: "set server.api_keys and skip_auth: false, or listen on 127.0.0.1",
      });
    }
  }

  for (const [id, provider] of Object.entries(config.providers ?? {})) {
    if (id.includes(":")) {
      problems.push({ ...locate.at(["providers", id], true), severity: "error", message: `provider id '${id}' contains ':', which separates provider from model`, hint: "rename the provider" });
    }
    const base = provider?.api_base;
    if (base !== undefined && base !== "") {
      problems.push(...baseProblems(base, ["providers", id, "api_base"], locate));
    } else if (!BUILTIN_IDS.includes(id) && !provider?.accounts?.every((a) => a.api_base)) {
      const close = closestMatches(id, BUILTIN_IDS, 1)[0];
      problems.push({
        ...locate.at(["providers", id], true),
        severity: "error",
        message: `provider '${id}' is not built in, so it needs an api_base`,
        hint: close ? `did you mean the built-in '${close}'? otherwise add api_base: https://…/v1` : "add api_base: https://…/v1",
      });
    }
    if (provider?.account_strategy !== undefined && provider.accounts === undefined && !isPlanId(id)) {
      problems.push({
        ...locate.at(["providers", id, "account_strategy"]),
        severity: "warning",
        message: `providers.${id}.account_strategy has no effect: the provider has one account`,
        hint: "list its keys under accounts:, or remove account_strategy",
      });
    }
    (provider?.models ?? []).forEach((model, i) => {
      const price = model.pricing;
      if (price && (price.input_micro_usd_per_token === undefined || price.output_micro_usd_per_token === undefined)) {
        problems.push({
          ...locate.at(["providers", id, "models", i, "pricing"]),
          severity: "error",
          message: `providers.${id}.models.${i}.pricing needs both input_micro_usd_per_token and output_micro_usd_per_token`,
          hint: "µUSD per token is USD per million tokens: e.g. { input_micro_usd_per_token: 3, output_micro_usd_per_token: 15 }",
        });
      }
    });
    if (provider?.kind !== undefined && id === "openai-codex") {
      problems.push({ ...locate.at(["providers", id, "kind"]), severity: "warning", message: "providers.openai-codex.kind is ignored: it is always a subscription plan", hint: "remove kind" });
    }
    const labels = new Map<string, number>();
    (provider?.accounts ?? []).forEach((account, i) => {
      const path = ["providers", id, "accounts", i];
      const label = account.label ?? `account-${i + 1}`;
      const earlier = labels.get(label);
      if (earlier !== undefined) {
        problems.push({ ...locate.at([...path, "label"]), severity: "error", message: `providers.${id}.accounts.${i} has the label '${label}' of accounts.${earlier}; each account needs its own`, hint: "give every account a different label" });
      }
      labels.set(label, i);
      if (isPlanId(id) && account.api_key !== undefined) {
        problems.push({
          ...locate.at([...path, "api_key"]),
          severity: "error",
          message: `providers.${id} is a subscription plan: its accounts are logins, not keys`,
          hint: `remove api_key and run \`bitrouter login ${id} --label ${label}\``,
        });
      }
      if (account.api_base) problems.push(...baseProblems(account.api_base, [...path, "api_base"], locate));
    });
  }

  // Auth on with no usable key: every request would get a 401.
  const keys = (config.server?.api_keys ?? []).filter((k) => k !== "");
  if (!skipsAuth(config) && keys.length === 0) {
    const path = config.server?.api_keys ? ["server", "api_keys"] : ["server", "skip_auth"];
    problems.push({
      ...locate.at(path),
      severity: "error",
      message: config.server?.api_keys?.length ? "server.api_keys has no usable key (every entry is empty or an unset variable), so no request could ever be authorised" : "skip_auth is false but there are no server.api_keys, so no request could ever be authorised",
      hint: 'add api_keys: ["${BITROUTER_KEY}"] and set that variable, or set skip_auth: true (loopback only)',
    });
  }

  const health = typeof config.health === "object" && config.health !== null ? config.health : undefined;
  if (health?.cooldown_min_secs !== undefined && health.cooldown_max_secs !== undefined && health.cooldown_min_secs > health.cooldown_max_secs) {
    problems.push({
      ...locate.at(["health", "cooldown_min_secs"]),
      severity: "error",
      message: `health.cooldown_min_secs (${health.cooldown_min_secs}) is above health.cooldown_max_secs (${health.cooldown_max_secs})`,
      hint: "the backoff grows from the minimum to the maximum; swap them",
    });
  }

  // Values that pass the schema but would fail every request.
  const limit = config.server?.body_limit_mb;
  if (limit !== undefined && limit < MIN_BODY_LIMIT_MB) {
    problems.push({ ...locate.at(["server", "body_limit_mb"]), severity: "error", message: `server.body_limit_mb ${limit} is below ${MIN_BODY_LIMIT_MB} (10 KiB): every real request would get a 413`, hint: "agents send several MiB; the default is 32" });
  }
  const timeoutSets: [string[], Record<string, unknown> | undefined][] = [
    [["upstream", "timeouts"], config.upstream?.timeouts],
    ...Object.entries(config.providers ?? {}).map(([id, p]): [string[], Record<string, unknown> | undefined] => [["providers", id, "timeouts"], p?.timeouts]),
  ];
  for (const [path, set] of timeoutSets) {
    for (const [key, floor] of Object.entries(TIMEOUT_FLOORS)) {
      const value = set?.[key];
      if (typeof value === "number" && value < floor) {
        problems.push({ ...locate.at([...path, key]), severity: "error", message: `${path.join(".")}.${key} ${value} is below ${floor} s: sources could never answer in time`, hint: `use at least ${floor} (the default is ${TIMEOUT_DEFAULTS[key]})` });
      }
    }
  }

  for (const [name, model] of Object.entries(config.models ?? {})) {
    model.endpoints.forEach((endpoint, i) => {
      if (providerIds.has(endpoint.provider)) return;
      const close = closestMatches(endpoint.provider, providerIds, 1)[0];
      problems.push({
        ...locate.at(["models", name, "endpoints", i, "provider"]),
        severity: "error",
        message: `models.${name}.endpoints[${i}] names provider '${endpoint.provider}', which is neither configured nor built in`,
        hint: close ? `did you mean '${close}'?` : "add it under providers:",
      });
    });
  }
  return problems;
}

/** skip_auth defaults to true unless API keys are configured. */
export function skipsAuth(config: ConfigFile): boolean {
  return config.server?.skip_auth ?? (config.server?.api_keys ?? []).length === 0;
}

function describeIssue(issue: z.core.$ZodIssue, locate: Locator, doc: Document): ConfigProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const where = path.length > 0 ? path.join(".") : "top level";
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(path);
    return issue.keys.map((key) => {
      const close = closestMatches(key, known, 1)[0];
      return {
        ...locate.at([...path, key], true),
        severity: "error",
        message: `unknown key '${key}' in ${where}`,
        hint: close ? `did you mean '${close}'?` : known.length > 0 ? `allowed keys: ${known.join(", ")}` : undefined,
      };
    });
  }
  if (issue.code === "invalid_value" && "values" in issue) {
    const actual = doc.getIn(path);
    const choices = issue.values.map(String);
    const close = typeof actual === "string" ? closestMatches(actual, choices, 1)[0] : undefined;
    return [{ ...locate.at(path), severity: "error", message: `${where}: '${String(actual)}' is not one of ${choices.join(", ")}`, hint: close ? `did you mean '${close}'?` : undefined }];
  }
  // Custom checks put their suggestion after "; " (see schema.ts).
  const [message, suggestion] = issue.message.replace(/^Invalid input: /, "").split("; ");
  if (issue.code === "custom") return [{ ...locate.at(path), severity: "error", message: `${where}: ${message}`, hint: suggestion }];
  if (issue.code === "invalid_type" && doc.getIn(path) === undefined) {
    return [{ ...locate.at(path), severity: "error", message: `${where} is required` }];
  }
  return [{ ...locate.at(path), severity: "error", message: `${where}: ${message}${suggestion ? `; ${suggestion}` : ""}` }];
}

/** The keys the schema allows for the object at `path` (for did-you-mean). */
function knownKeysAt(path: ConfigPath): string[] {
  let schema: unknown = configSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (def.type === "object") schema = (def.shape as Record<string, unknown>)[String(segment)];
    else if (def.type === "record") schema = def.valueType;
    else if (def.type === "array") schema = def.element;
    else return [];
  }
  schema = unwrap(schema);
  const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  return def?.type === "object" ? Object.keys(def.shape as object) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 8; i++) {
    const def = (current as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return current;
    if (def.type === "optional" || def.type === "nullable" || def.type === "default" || def.type === "prefault") current = def.innerType;
    else if (def.type === "pipe") current = (def.in as { _zod?: { def?: { type?: string } } })._zod?.def?.type === "transform" ? def.out : def.in;
    // `health: false | {…}`, `detect: false | {…}`: the object form is the one with keys.
    else if (def.type === "union") current = (def.options as unknown[]).find((o) => (unwrap(o) as { _zod?: { def?: { type?: string } } })._zod?.def?.type === "object") ?? current;
    else return current;
  }
  return current;
}

function stripIgnoredKeys(value: Record<string, unknown>, path: string[], report: (path: ConfigPath) => void): void {
  for (const key of Object.keys(value)) {
    const here = [...path, key];
    if (IGNORED_ORIGINAL_KEYS.some((pattern) => matchesPattern(pattern, here))) {
      report(here);
      delete value[key];
      continue;
    }
    const child = value[key];
    if (isPlainObject(child)) stripIgnoredKeys(child, here, report);
    else if (Array.isArray(child)) {
      child.forEach((item, i) => {
        if (isPlainObject(item)) stripIgnoredKeys(item, [...here, String(i)], report);
      });
    }
  }
}

function matchesPattern(pattern: string, path: string[]): boolean {
  const parts = pattern.split(".");
  return parts.length === path.length && parts.every((p, i) => p === "*" || p === path[i]);
}

function walkScalars(node: unknown, path: ConfigPath, visit: (scalar: { value: unknown }, path: ConfigPath) => void): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      walkScalars(pair.value, [...path, key], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walkScalars(item, [...path, i], visit));
  } else if (isScalar(node)) {
    visit(node, path);
  }
}

/** Maps a path in the config to a line and column of the file. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  /** Position of the value at `path` (or of its key), falling back to the nearest ancestor that exists. */
  at(path: ConfigPath, key = false): Pick<ConfigProblem, "file" | "line" | "column"> {
    let node: Node | null = this.doc.contents;
    let offset = node?.range?.[0] ?? 0;
    for (let i = 0; i < path.length && node; i++) {
      const segment = path[i]!;
      let next: Node | null = null;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (pair) {
          const keyNode = pair.key as Node | null;
          if (key && i === path.length - 1 && keyNode?.range) {
            offset = keyNode.range[0];
            break;
          }
          next = (pair.value as Node | null) ?? null;
          if (!next && keyNode?.range) offset = keyNode.range[0];
        }
      } else if (isSeq(node)) {
        next = (node.items[Number(segment)] as Node | undefined) ?? null;
      }
      if (!next) break;
      node = next;
      if (node.range) offset = node.range[0];
    }
    const pos = this.lines.linePos(offset);
    return { file: this.file, line: pos.line, column: pos.col };
  }
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
