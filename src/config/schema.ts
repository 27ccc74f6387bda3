// The one description of bitrouter.yaml. Types are inferred from it; nothing else
// declares the shape of the config.
import { z } from "zod";
import { didYouMean } from "../did-you-mean.ts";

export const PROTOCOLS = ["chat_completions", "messages", "responses", "generate_content"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Names the registry of the original uses; accepted here as aliases. */
export const PROTOCOL_ALIASES: Record<string, Protocol> = {
  openai: "chat_completions",
  anthropic: "messages",
  google: "generate_content",
};

export function isProtocol(name: string): name is Protocol {
  return (PROTOCOLS as readonly string[]).includes(name);
}

const protocol = z.string().transform((value, ctx): Protocol => {
  const name = value.trim().toLowerCase();
  const resolved = PROTOCOL_ALIASES[name] ?? (isProtocol(name) ? name : undefined);
  if (resolved) return resolved;
  const hint = didYouMean(name, [...PROTOCOLS, ...Object.keys(PROTOCOL_ALIASES)]) ?? `use one of ${PROTOCOLS.join(", ")}`;
  ctx.addIssue({ code: "custom", message: `unknown protocol '${value}'; ${hint}` });
  return z.NEVER;
});

const asList = (v: unknown) => (Array.isArray(v) ? v : [v]);
const protocolList = z.preprocess(asList, z.array(protocol).min(1));

/** `api_protocol`: a bare protocol (= `"*": that`) or a list of `{"pattern": protocol | [protocols]}`. */
const apiProtocol = z
  .preprocess((v) => (typeof v === "string" ? [{ "*": v }] : v), z.array(z.record(z.string(), protocolList)))
  .transform((rules): ProtocolRule[] => rules.flatMap((entry) => Object.entries(entry).map(([pattern, protocols]) => ({ pattern, protocols }))));
export interface ProtocolRule {
  pattern: string;
  protocols: Protocol[];
}

// `${VAR}` substitution yields strings, so numeric and boolean fields also accept their
// string spelling ("300", "true").
const numberish = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), schema);
const boolean = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());
const seconds = numberish(z.number().positive());
/**
 * `section: true | false | {…}`: the boolean is read as `{enabled: …}`, so a mistake inside the
 * mapping is reported at its own key (a union would only say "Invalid input").
 */
const switchable = <T extends z.core.$ZodShape>(shape: T, keys: string) =>
  z.preprocess(
    (v) => (v === true || v === "true" ? { enabled: true } : v === false || v === "false" ? { enabled: false } : v),
    z.strictObject(shape, { error: (issue) => (issue.code === "invalid_type" ? `expected true, false or a mapping of ${keys}` : undefined) }),
  );

const timeouts = z.strictObject({
  connect_secs: seconds.optional(),
  read_secs: seconds.optional(),
  total_secs: seconds.nullable().optional(),
});

const compatibility = z.strictObject({
  chat_completions: z
    .strictObject({
      token_limit_field: z.enum(["max_tokens", "max_completion_tokens"]).optional(),
      supports_store: boolean.optional(),
      supports_stream_options: boolean.optional(),
      /** `gemini`: tool schemas cut to the subset Gemini's `parameters` takes (default for Google's hosts). */
      tool_schema: z.enum(["json_schema", "gemini"]).optional(),
    })
    .optional(),
});

/**
 * A model's own price, in the original's spelling: µUSD per token, which is USD per million
 * tokens. `context_tiers` is accepted for the original's files; the base rates are used.
 */
const perToken = numberish(z.number({ error: "a price is a number: µUSD per token, which is USD per million tokens" }).nonnegative("a price cannot be negative")).optional();
const pricing = z.strictObject({
  input_micro_usd_per_token: perToken,
  output_micro_usd_per_token: perToken,
  cache_read_micro_usd_per_token: perToken,
  cache_write_micro_usd_per_token: perToken,
  context_tiers: z.array(z.unknown()).optional(),
});

const providerModel = z.strictObject({
  id: z.string().min(1),
  provider_model_id: z.string().min(1).optional(),
  api_protocol: protocolList.optional(),
  compatibility: compatibility.optional(),
  capabilities: z.array(z.string()).optional(),
  context_length: numberish(z.number().int().positive()).optional(),
  pricing: pricing.optional(),
});

/** Names an account in config, logs, headers and `login --label`: short and plain. */
export const LABEL_PATTERN = /^[A-Za-z0-9][\w.-]{0,63}$/;
const LABEL_RULE = "use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit";

/** One credential of a provider (SPEC §16): its own key and base URL, or, for a plan, a stored login's label. */
const account = z.strictObject({
  label: z.string().regex(LABEL_PATTERN, `not a usable label; ${LABEL_RULE}`).optional(),
  api_key: z.string().optional(),
  api_base: z.string().optional(),
});

export const ACCOUNT_STRATEGIES = ["failover", "round_robin", "drain_soonest"] as const;
export type AccountStrategy = (typeof ACCOUNT_STRATEGIES)[number];
/** `balance` is the original BitRouter's name for rotating accounts. */
const accountStrategy = z.enum([...ACCOUNT_STRATEGIES, "balance"]).transform((s): AccountStrategy => (s === "balance" ? "round_robin" : s));

const provider = z.strictObject({
  api_base: z.string().optional(),
  api_key: z.string().optional(),
  accounts: z.array(account).min(1).optional(),
  account_strategy: accountStrategy.optional(),
  api_protocol: apiProtocol.optional(),
  models: z.array(providerModel).optional(),
  active: boolean.optional(),
  priority: numberish(z.number().int()).optional(),
  /** Overrides what the address suggests: a paid gateway on the LAN is `api`, a GPU box behind a public name `self-hosted`. */
  kind: z.enum(["api", "self-hosted"]).optional(),
  timeouts: timeouts.optional(),
  auto_discover: boolean.optional(),
});

/** Local model servers found without configuration: `detect: false`, or the details. */
const detect = switchable(
  {
    enabled: boolean.optional(),
    interval_secs: seconds.optional(),
    timeout_ms: numberish(z.number().int().positive()).optional(),
    /** More hosts to probe on the default ports (`gpu-box`), or on one port (`gpu-box:11434`). */
    hosts: z.array(z.string().min(1)).optional(),
  },
  "enabled, interval_secs, timeout_ms, hosts",
);

const virtualModel = z.strictObject({
  strategy: z.enum(["priority", "cascade"]).optional(),
  endpoints: z.array(z.strictObject({ provider: z.string().min(1), service_id: z.string().min(1) })).min(1),
});

const server = z.strictObject({
  listen: z.string().optional(),
  skip_auth: boolean.optional(),
  api_keys: z.array(z.string()).optional(),
  log_level: z.enum(["debug", "info", "warn", "error"]).optional(),
  body_limit_mb: numberish(z.number().positive()).optional(),
  request_body_timeout_secs: seconds.optional(),
  keepalive_secs: seconds.optional(),
  shutdown_grace_secs: numberish(z.number().nonnegative()).optional(),
});

const upstream = z.strictObject({
  timeouts: timeouts.optional(),
  max_retry_wait_secs: numberish(z.number().nonnegative()).optional(),
  discovery_timeout_secs: seconds.optional(),
});

/** Seconds of a cooling period: at most a day. */
const cooldownSecs = numberish(z.number().positive().max(86_400, "at most 86400 (a day); a source that is out for longer is probed once a day"));

/** Source health across requests (SPEC §14): `health: false`, or the tuning. */
const health = switchable(
  {
    enabled: boolean.optional(),
    /** Consecutive 5xx / connect / timeout failures before a target cools. */
    allowed_fails: numberish(z.number().int().positive()).optional(),
    cooldown_min_secs: cooldownSecs.optional(),
    cooldown_max_secs: cooldownSecs.optional(),
  },
  "enabled, allowed_fails, cooldown_min_secs, cooldown_max_secs",
);

/** Plan windows and session affinity (SPEC §15, §16). */
const subscriptions = z.strictObject({
  /** Utilisation (0–1) of any window above which the account is demoted until that window resets. */
  spill_at: numberish(
    z.number({ error: "spill_at is a fraction of the window, e.g. 0.95 for 95%" }).gt(0, "spill_at must be above 0").max(1, "spill_at is a fraction of the window: 0.95 means 95%, at most 1"),
  ).optional(),
  /** How long a conversation stays bound to the account that served it, after its last request. */
  session_ttl_secs: seconds.optional(),
});

/** The usage ledger (SPEC §17). */
const usage = switchable(
  {
    enabled: boolean.optional(),
    /** Rows older than this are deleted (in small batches, off the request path). */
    retention_days: numberish(z.number({ error: "retention_days is a number of days, e.g. 90" }).positive("retention_days must be above 0; use usage: false to keep no ledger")).optional(),
  },
  "enabled, retention_days",
);

const REDIS_URL_HINT = "expected a Redis URL such as redis://127.0.0.1:6379 or redis://host:6379/2 (rediss:// for TLS; a password goes in as redis://:${REDIS_PASSWORD}@host:6379)";

/** A URL Bun's Redis client takes: a host, a port within range, and at most a database number as its path. */
function isRedisUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.hostname !== "" && /^(\/\d{0,2})?$/.test(url.pathname) && url.search === "" && url.hash === "";
}

/** Shared state for several instances behind one balancer (SPEC §20). */
const state = z.strictObject({
  /** `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS. */
  redis: z
    .string()
    .regex(/^(redis|rediss|valkey|valkeys):\/\/[^\s]+$/, REDIS_URL_HINT)
    .refine(isRedisUrl, REDIS_URL_HINT)
    .optional(),
  /** Instances with the same prefix share; another prefix on the same Redis is another fleet. */
  prefix: z.string().regex(/^[\w.:-]{1,64}$/, "1 to 64 letters, digits, and . _ : -").optional(),
});

// Sections may be present but empty (only comments under them): YAML reads that as null.
export const configSchema = z.strictObject({
  server: server.nullish(),
  upstream: upstream.nullish(),
  detect: detect.nullish(),
  health: health.nullish(),
  subscriptions: subscriptions.nullish(),
  usage: usage.nullish(),
  state: state.nullish(),
  providers: z.record(z.string().min(1), provider.nullable()).nullish(),
  models: z.record(z.string().min(1), virtualModel).nullish(),
});

export type ConfigFile = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof provider>;
export type AccountConfig = z.infer<typeof account>;
export type TimeoutsConfig = z.infer<typeof timeouts>;
export type Compatibility = z.infer<typeof compatibility>;

/**
 * Keys of the original BitRouter that this one does not implement: accepted with a
 * warning so that its users' files still load. `*` matches any map key or list index.
 */
export const IGNORED_ORIGINAL_KEYS: readonly string[] = [
  "database",
  "presets",
  "variants",
  "registry",
  "inherit_defaults",
  "plugins",
  "mcp",
  "mcp_servers",
  "server_tools",
  "agents",
  "policy",
  "policy_table",
  "eval",
  "trajectory",
  "continuation",
  "worktrees",
  "tui",
  "server.control_socket",
  "upstream.fallback_backoff_ms",
  "upstream.timeouts.pool_idle_secs",
  "upstream.timeouts.tcp_keepalive_secs",
  "providers.*.protocol_endpoints",
  "providers.*.derives",
  "providers.*.class",
  "providers.*.tags",
  "providers.*.rate_limits",
  "providers.*.timeouts.pool_idle_secs",
  "providers.*.timeouts.tcp_keepalive_secs",
  "providers.*.models.*.reasoning_effort",
  "providers.*.models.*.rate_limits",
  "models.*.pricing",
];
