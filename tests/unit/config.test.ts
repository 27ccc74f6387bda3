import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, type ConfigProblem, locateConfig, parseConfigText, substituteVariables } from "../../src/config/load.ts";

function problems(text: string, env: Record<string, string> = {}): ConfigProblem[] {
  try {
    parseConfigText(text, "bitrouter.yaml", env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("${VAR} substitution", () => {
  test("substitutes set variables and defaults, reports unset ones", () => {
    const env = { KEY: "sk-1", EMPTY: "" };
    expect(substituteVariables("${KEY}", env)).toEqual({ value: "sk-1", unset: [], used: ["KEY"] });
    expect(substituteVariables("x-${MISSING:-fallback}-y", env).value).toBe("x-fallback-y");
    expect(substituteVariables("${MISSING}", env)).toEqual({ value: "", unset: ["MISSING"], used: [] });
    // Set-but-empty counts as unset, as `${VAR:-default}` does in a shell.
    expect(substituteVariables("${EMPTY}", env).unset).toEqual(["EMPTY"]);
    expect(substituteVariables("${EMPTY:-d}", env).value).toBe("d");
    // Not a reference: left alone.
    expect(substituteVariables("cost: $5 and ${unclosed", env).value).toBe("cost: $5 and ${unclosed");
  });

  test("comments are never substituted, so a commented-out reference to an unset variable is harmless", () => {
    const loaded = parseConfigText(
      `# api_key: \${NEVER_SET}
providers:
  openrouter:
    api_key: \${OR_KEY}   # \${ALSO_NEVER_SET}
`,
      "f.yaml",
      { OR_KEY: "sk-or" },
    );
    expect(loaded.unset).toEqual([]);
    expect(loaded.config.providers?.openrouter?.api_key).toBe("sk-or");
    expect(loaded.substituted).toEqual([{ path: ["providers", "openrouter", "api_key"], name: "OR_KEY" }]);
  });

  test("an unset variable in a provider is recorded, not fatal", () => {
    const loaded = parseConfigText("providers:\n  openrouter:\n    api_key: ${OPENROUTER_API_KEY}\n", "f.yaml", {});
    expect(loaded.unset).toEqual([{ path: ["providers", "openrouter", "api_key"], name: "OPENROUTER_API_KEY" }]);
  });

  test("an unset variable where nothing can degrade gracefully is an error with a fix", () => {
    const [p] = problems("server:\n  listen: ${LISTEN}\n");
    expect(p?.message).toContain("LISTEN is not set");
    expect(p?.line).toBe(2);
    expect(p?.hint).toContain("${LISTEN:-value}");
  });

  test("an unset API key is dropped with a warning", () => {
    const loaded = parseConfigText('server:\n  api_keys: ["${BR_KEY}", "static-key"]\n', "f.yaml", {});
    expect(loaded.config.server?.api_keys).toEqual(["", "static-key"]);
    expect(loaded.warnings[0]?.message).toContain("BR_KEY is not set");
  });

  test("a substituted number or boolean is read as one", () => {
    const loaded = parseConfigText("upstream:\n  timeouts:\n    read_secs: ${READ:-42}\nserver:\n  skip_auth: ${SKIP:-true}\n", "f.yaml", {});
    expect(loaded.config.upstream?.timeouts?.read_secs).toBe(42);
    expect(loaded.config.server?.skip_auth).toBe(true);
  });
});

describe("validation", () => {
  test("an empty file is valid", () => {
    expect(parseConfigText("", "f.yaml", {}).config).toEqual({});
    expect(parseConfigText("# only a comment\nproviders:\n", "f.yaml", {}).config.providers).toBeNull();
  });

  test("a misspelt key names its line and column and the key meant", () => {
    const text = "providers:\n  openrouter:\n    api_bse: https://openrouter.ai/api/v1\n";
    const [p] = problems(text);
    expect(p).toMatchObject({ file: "bitrouter.yaml", line: 3, column: 5, severity: "error" });
    expect(p?.message).toBe("unknown key 'api_bse' in providers.openrouter");
    expect(p?.hint).toBe("did you mean 'api_base'?");
  });

  test("every problem is reported at once, in file order", () => {
    const text = `server:
  lisen: 127.0.0.1:4356
providers:
  ollama:
    api_base: http://localhost:11434/v1
    api_protocol: chat_completion
models:
  smart:
    strategy: priorty
    endpoints:
      - { provider: olama, service_id: llama3.1 }
`;
    const found = problems(text);
    expect(found.map((p) => [p.line, p.hint])).toEqual([
      [2, "did you mean 'listen'?"],
      [6, "did you mean 'chat_completions'?"],
      [9, "did you mean 'priority'?"],
      [11, "did you mean 'ollama'?"],
    ]);
  });

  test("keys of the original BitRouter are accepted with a warning", () => {
    const loaded = parseConfigText(
      "database:\n  url: sqlite://x.db\nproviders:\n  ollama:\n    api_base: http://localhost:11434/v1\n    derives: openai\n    models:\n      - id: llama3.1\n        reasoning_effort: {}\n",
      "f.yaml",
      {},
    );
    expect(loaded.warnings.map((w) => [w.line, w.message])).toEqual([
      [1, "'database' is a key of the original BitRouter that this version ignores"],
      [6, "'providers.ollama.derives' is a key of the original BitRouter that this version ignores"],
      [9, "'providers.ollama.models.0.reasoning_effort' is a key of the original BitRouter that this version ignores"],
    ]);
    expect(loaded.config.providers?.ollama?.models?.[0]).toEqual({ id: "llama3.1" });
  });

  test("api_protocol accepts a bare protocol, pattern lists and the registry's aliases", () => {
    const loaded = parseConfigText(
      `providers:
  a:
    api_base: http://a.example/v1
    api_protocol: openai
  b:
    api_base: http://b.example/v1
    api_protocol:
      - "claude-*": messages
      - "*": [chat_completions, responses]
`,
      "f.yaml",
      {},
    );
    expect(loaded.config.providers?.a?.api_protocol).toEqual([{ pattern: "*", protocols: ["chat_completions"] }]);
    expect(loaded.config.providers?.b?.api_protocol).toEqual([
      { pattern: "claude-*", protocols: ["messages"] },
      { pattern: "*", protocols: ["chat_completions", "responses"] },
    ]);
  });

  test("a provider that is not built in needs an api_base; a near miss of a built-in is suggested", () => {
    const [p] = problems("providers:\n  openruter: {}\n");
    expect(p?.line).toBe(2);
    expect(p?.message).toContain("'openruter' is not built in");
    expect(p?.hint).toContain("did you mean the built-in 'openrouter'?");
  });

  test("YAML syntax errors carry their position", () => {
    const [p] = problems("providers:\n  ollama: {api_base: x\n");
    expect(p?.message).toStartWith("invalid YAML");
    expect(p?.line).toBeGreaterThan(0);
  });

  test("duplicate keys are an error", () => {
    expect(problems("server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n")[0]?.message).toContain("invalid YAML");
  });

  test("a non-loopback listen with auth off is refused", () => {
    const [p] = problems("server:\n  listen: 0.0.0.0:4356\n");
    expect(p?.message).toContain("not a loopback address");
    expect(p?.hint).toContain("api_keys");
    // With keys, auth is on by default and the address is fine.
    expect(problems('server:\n  listen: 0.0.0.0:4356\n  api_keys: ["k"]\n')).toEqual([]);
  });

  test("wrong types say what was expected", () => {
    const [p] = problems("upstream:\n  timeouts:\n    read_secs: soon\n");
    expect(p?.line).toBe(3);
    expect(p?.message).toContain("upstream.timeouts.read_secs");
  });
});

describe("locating the config file", () => {
  test("-c must exist; then ./bitrouter.yaml, $BITROUTER_HOME, ~/.bitrouter, none", () => {
    const root = mkdtempSync(join(tmpdir(), "locate-"));
    const cwd = join(root, "cwd");
    const home = join(root, "home");
    const brHome = join(root, "brhome");
    for (const d of [cwd, join(home, ".bitrouter"), brHome]) mkdirSync(d, { recursive: true });
    const env = { BITROUTER_HOME: brHome };
    expect(locateConfig({ cwd, env, homeDir: home })).toBeNull();
    writeFileSync(join(home, ".bitrouter", "bitrouter.yaml"), "");
    expect(locateConfig({ cwd, env, homeDir: home })).toBe(join(home, ".bitrouter", "bitrouter.yaml"));
    writeFileSync(join(brHome, "bitrouter.yaml"), "");
    expect(locateConfig({ cwd, env, homeDir: home })).toBe(join(brHome, "bitrouter.yaml"));
    writeFileSync(join(cwd, "bitrouter.yaml"), "");
    expect(locateConfig({ cwd, env, homeDir: home })).toBe(join(cwd, "bitrouter.yaml"));
    expect(() => locateConfig({ explicit: "nope.yaml", cwd, env, homeDir: home })).toThrow(ConfigError);
  });
});

describe("aliases (issue #9): never the YAML library's exception", () => {
  test("an alias without its anchor is a config error at its position", () => {
    const [p] = problems("server: *nope\n");
    expect(p).toMatchObject({ severity: "error", line: 1, column: 9 });
    expect(p!.message).toContain("'*nope' has no anchor");
  });

  test("an alias bomb is a config error with a position, and returns at once", () => {
    const lines = ["a: &a [1,2]"];
    for (const [name, prev] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"], ["f", "e"]]) lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
    lines.push(`g: [${Array(9).fill("*f").join(",")}]`);
    const [p] = problems(`${lines.join("\n")}\n`);
    expect(p).toMatchObject({ severity: "error", line: 2 });
    expect(p!.message).toContain("alias bomb");
  });
});

describe("values that pass the schema but would fail every request (issue #9) are errors with a fix", () => {
  test.each([
    ["an api_base that already ends in the endpoint path", 'providers: { x: { api_base: "http://h:1/v1/chat/completions/", models: [{id: m}] } }', "appends itself", "api_base: http://h:1/v1"],
    ["auth on with no keys", "server: { skip_auth: false }", "no request could ever be authorised", "skip_auth: true"],
    ["auth on whose only key is an unset variable", 'server: { skip_auth: false, api_keys: ["${NOPE}"] }', "no usable key", "BITROUTER_KEY"],
    ["an empty key (auth on by default)", 'server: { api_keys: [""] }', "no usable key", "skip_auth: true"],
    ["a body limit no request fits", "server: { body_limit_mb: 0.00001 }", "below 0.01", "default is 32"],
    ["a read timeout no source can meet", "upstream: { timeouts: { read_secs: 0.001 } }", "read_secs 0.001 is below 1 s", "at least 1"],
    ["a provider's connect timeout no source can meet", "providers: { ollama: { timeouts: { connect_secs: 0.01 } } }", "connect_secs 0.01 is below 0.1 s", "at least 0.1"],
  ])("%s", (_what, yaml, message, hint) => {
    const errors = problems(`${yaml}\n`).filter((p) => p.severity === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(message);
    expect(errors[0]!.hint).toContain(hint);
    expect(errors[0]!.line).toBe(1);
  });

  test("a usable key, or auth off, is fine", () => {
    expect(problems('server: { api_keys: ["k"] }\n')).toEqual([]);
    expect(problems("server: { skip_auth: true }\n")).toEqual([]);
  });
});

describe("health:, subscriptions: and accounts (issue #10) are checked like the rest", () => {
  test("good blocks load: health tuned or off, spill_at, session TTL, accounts with the original's 'balance'", () => {
    expect(problems("health: false\n")).toEqual([]);
    expect(problems("health: { allowed_fails: 2, cooldown_min_secs: 1, cooldown_max_secs: 60 }\nsubscriptions: { spill_at: 0.9, session_ttl_secs: 600 }\n")).toEqual([]);
    const loaded = parseConfigText("providers:\n  openrouter:\n    account_strategy: balance\n    accounts:\n      - { label: a, api_key: k1 }\n      - { api_key: k2 }\n", "f.yaml", {});
    expect(loaded.config.providers?.openrouter?.account_strategy).toBe("round_robin");
    expect(loaded.warnings).toEqual([]);
  });

  test("mistakes name the line and say how to fix them", () => {
    const found = problems(`health:
  allowed_fail: 3
  cooldown_min_secs: 600
  cooldown_max_secs: 60
subscriptions:
  spill_at: 95
providers:
  anthropic:
    account_strategy: drain_first
    accounts:
      - { label: work, api_key: sk-x }
  openrouter:
    accounts:
      - { label: a, api_key: k1 }
      - { label: a, api_key: k2, api_base: "https://openrouter.ai/api/v1/chat/completions" }
`);
    const at = (line: number) => found.filter((p) => p.line === line).map((p) => `${p.message}${p.hint ? ` | ${p.hint}` : ""}`);
    expect(at(2).join()).toContain("allowed_fail");
    expect(at(2).join()).toContain("allowed_fails");
    expect(at(3).join()).toContain("cooldown_min_secs (600) is above health.cooldown_max_secs (60)");
    expect(at(6).join()).toMatch(/spill_at/);
    expect(at(9).join()).toMatch(/drain_soonest/);
    expect(at(11).join()).toContain("providers.anthropic is a subscription plan: its accounts are logins, not keys | remove api_key and run `bitrouter login anthropic --label work`");
    expect(at(15).join()).toContain("has the label 'a' of accounts.0");
    expect(at(15).join()).toContain("providers.openrouter.accounts.1.api_base ends in '/chat/completions'");
  });

  test("a wrong value inside health: is reported at its own key, every one of them; a wrong shape says what is expected", () => {
    const found = problems("health:\n  allowed_fails: 0\n  cooldown_min_secs: -1\n  cooldown_max_secs: abc\n  enabled: nope\n");
    expect(found.map((p) => [p.line, p.message.split(":")[0]])).toEqual([
      [2, "health.allowed_fails"],
      [3, "health.cooldown_min_secs"],
      [4, "health.cooldown_max_secs"],
      [5, "health.enabled"],
    ]);
    for (const text of ["health: yes\n", "health: 3\n", "detect: maybe\n"]) {
      expect(problems(text).map((p) => p.message)).toEqual([expect.stringMatching(/expected true, false or a mapping of enabled, /)]);
    }
    expect(problems("health: { cooldown_max_secs: 1e13 }\n")[0]?.message).toContain("at most 86400 (a day)");
    expect(problems("subscriptions: { spill_at: 95 }\n")[0]?.message).toContain("0.95 means 95%");
    expect(problems('subscriptions: { spill_at: "95%" }\n')[0]?.message).toContain("e.g. 0.95 for 95%");
  });

  test("account labels follow the rule `login --label` follows; account_strategy without accounts is a warning", () => {
    expect(problems('providers:\n  anthropic:\n    accounts: [{ label: "my team" }]\n')[0]?.message).toContain("not a usable label; use letters, digits");
    const loaded = parseConfigText("providers:\n  openrouter:\n    account_strategy: round_robin\n", "f.yaml", {});
    expect(loaded.warnings.map((w) => w.message)).toEqual(["providers.openrouter.account_strategy has no effect: the provider has one account"]);
  });
});

describe("usage: and pricing: (issue #11)", () => {
  test("usage: false, a retention, and a model's price in the original's µUSD-per-token spelling load; half a price is an error with a fix", () => {
    expect(problems("usage: false\n")).toEqual([]);
    expect(problems("usage: { retention_days: 30 }\n")).toEqual([]);
    const loaded = parseConfigText("providers:\n  gpu:\n    api_base: http://gpu:8000/v1\n    kind: api\n    models:\n      - id: m\n        pricing: { input_micro_usd_per_token: 0.5, output_micro_usd_per_token: 1.5 }\n", "f.yaml", {});
    expect(loaded.config.providers?.gpu?.models?.[0]?.pricing).toEqual({ input_micro_usd_per_token: 0.5, output_micro_usd_per_token: 1.5 });
    const half = problems("providers:\n  gpu:\n    api_base: http://gpu:8000/v1\n    models:\n      - id: m\n        pricing: { input_micro_usd_per_token: 0.5 }\n");
    expect(half).toMatchObject([{ line: 6, message: "providers.gpu.models.0.pricing needs both input_micro_usd_per_token and output_micro_usd_per_token" }]);
    expect(problems("usage: { retention_days: -1 }\n")[0]?.message).toContain("usage.retention_days");
    expect(problems("providers:\n  gpu:\n    api_base: http://gpu:8000/v1\n    kind: paid\n")[0]?.message).toContain("'paid' is not one of api, self-hosted");
  });
});
