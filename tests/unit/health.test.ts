// Health, windows and ordering as pure functions, with the clock passed in (SPEC §14–16).
import { describe, expect, test } from "bun:test";
import { parseConfigText } from "../../src/config/load.ts";
import { orderTargets } from "../../src/routing/order.ts";
import { resolveModel } from "../../src/routing/resolve.ts";
import { sessionKey } from "../../src/routing/session.ts";
import { buildRegistry, type Registry } from "../../src/sources/registry.ts";
import type { OAuthCredential } from "../../src/subscriptions/credentials.ts";
import { afterOutcome, backoffMs, DEFAULT_HEALTH, outcomeOf, viewOf } from "../../src/state/health.ts";
import { accountKey, createMemoryState, targetKey } from "../../src/state/target-state.ts";
import { claudeWindows } from "../../src/windows/claude.ts";
import { codexEventWindows, codexLimitBody, codexWindows } from "../../src/windows/codex.ts";
import { windowDemotion } from "../../src/windows/window.ts";
import { statusReport } from "../../src/state/report.ts";

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const half = () => 0.5; // jitter in the middle: exactly the base backoff

describe("health of one target", () => {
  test("5xx-like failures count; the third in a row cools it for the minimum backoff", () => {
    let h = afterOutcome(undefined, { kind: "failed", reason: "connect refused" }, DEFAULT_HEALTH, T0, half);
    expect(h).toMatchObject({ state: "failing", failures: 1 });
    expect(viewOf(h, T0)).toBe("ok");
    h = afterOutcome(h, { kind: "failed", reason: "HTTP 500" }, DEFAULT_HEALTH, T0, half);
    h = afterOutcome(h, { kind: "failed", reason: "HTTP 502" }, DEFAULT_HEALTH, T0, half);
    expect(h).toMatchObject({ state: "cooling", until: T0 + 10_000, strikes: 1, reason: "3 failures in a row, last: HTTP 502" });
    expect(viewOf(h, T0 + 9_999)).toBe("cooling");
    expect(viewOf(h, T0 + 10_000)).toBe("due");
  });

  test("a 'not now' cools at once, until the time the source named", () => {
    const h = afterOutcome(undefined, { kind: "overloaded", reason: "HTTP 429", untilMs: T0 + 42_000 }, DEFAULT_HEALTH, T0, half);
    expect(h).toMatchObject({ state: "cooling", until: T0 + 42_000 });
  });

  test("a failed probe cools again for twice as long; the backoff stops at the maximum; jitter stays within 10 %", () => {
    let h = afterOutcome(undefined, { kind: "overloaded", reason: "HTTP 503" }, DEFAULT_HEALTH, T0, half);
    expect(h!.until).toBe(T0 + 10_000);
    h = afterOutcome({ ...h!, state: "probing" }, { kind: "failed", reason: "HTTP 500" }, DEFAULT_HEALTH, T0 + 10_000, half);
    expect(h).toMatchObject({ state: "cooling", until: T0 + 10_000 + 20_000, strikes: 2, reason: "probe failed: HTTP 500" });
    expect(backoffMs(12, DEFAULT_HEALTH, half)).toBe(300_000);
    expect(backoffMs(0, DEFAULT_HEALTH, () => 0)).toBe(9_000);
    expect(backoffMs(0, DEFAULT_HEALTH, () => 0.999999)).toBeLessThanOrEqual(11_000);
  });

  test("failures of requests already under way when the target cooled do not stretch the cooling (20 in flight, one restart)", () => {
    let h = afterOutcome(undefined, { kind: "failed", reason: "connect refused" }, DEFAULT_HEALTH, T0, half);
    h = afterOutcome(h, { kind: "failed", reason: "connect refused" }, DEFAULT_HEALTH, T0, half);
    h = afterOutcome(h, { kind: "failed", reason: "connect refused" }, DEFAULT_HEALTH, T0, half);
    expect(h).toMatchObject({ state: "cooling", until: T0 + 10_000, strikes: 1 });
    for (let i = 0; i < 17; i++) h = afterOutcome(h, { kind: "failed", reason: "connect refused" }, DEFAULT_HEALTH, T0 + 5, half);
    expect(h).toMatchObject({ state: "cooling", until: T0 + 10_000, strikes: 1 });
    // A later time the source names still counts.
    h = afterOutcome(h, { kind: "overloaded", reason: "HTTP 429", untilMs: T0 + 60_000 }, DEFAULT_HEALTH, T0 + 6, half);
    expect(h).toMatchObject({ until: T0 + 60_000, strikes: 1 });
  });

  test("a success forgets everything, strikes included", () => {
    const cooled = afterOutcome(undefined, { kind: "overloaded", reason: "HTTP 529" }, DEFAULT_HEALTH, T0, half);
    expect(afterOutcome(cooled, { kind: "success" }, DEFAULT_HEALTH, T0)).toBeUndefined();
  });

  test("which failures cool, which count and which say nothing about the source", () => {
    const f = (status: number | null, kind: "status" | "connect" | "timeout" | "unsupported", action: "next" | "surface", retryAfterMs?: number) => ({ status, kind, reason: `HTTP ${status}`, action, retryAfterMs });
    for (const status of [429, 503, 529, 402]) expect(outcomeOf(f(status, "status", "next"), T0)?.kind).toBe("overloaded");
    expect(outcomeOf(f(429, "status", "next", 5000), T0)).toMatchObject({ kind: "overloaded", untilMs: T0 + 5000 });
    for (const status of [500, 502, 504, 401, 404, 408]) expect(outcomeOf(f(status, "status", "next"), T0)?.kind).toBe("failed");
    expect(outcomeOf(f(null, "connect", "next"), T0)?.kind).toBe("failed");
    expect(outcomeOf(f(null, "timeout", "next"), T0)?.kind).toBe("failed");
    for (const status of [400, 413, 422]) expect(outcomeOf(f(status, "status", "surface"), T0)).toBeNull();
    expect(outcomeOf(f(400, "unsupported", "next"), T0)).toBeNull();
  });
});

describe("the in-memory state", () => {
  test("one probe per cooled target, whoever asks first", () => {
    let now = T0;
    const state = createMemoryState({ now: () => now, random: half });
    state.record("t", { kind: "overloaded", reason: "HTTP 503" }, DEFAULT_HEALTH);
    expect(state.claimProbe("t")).toBe(false);
    now += 10_000;
    expect(state.claimProbe("t")).toBe(true);
    expect(state.claimProbe("t")).toBe(false);
    expect(viewOf(state.get("t"), now)).toBe("probing");
    state.record("t", { kind: "success" }, DEFAULT_HEALTH);
    expect(state.get("t")).toBeUndefined();
  });

  test("at most maxTargets records are kept: a client naming endless models cannot grow the table", () => {
    const state = createMemoryState({ now: () => T0, maxTargets: 3 });
    for (let i = 0; i < 10; i++) state.record(targetKey("openai", `made-up-${i}`, "default"), { kind: "failed", reason: "HTTP 404" }, DEFAULT_HEALTH);
    expect(state.list().map((e) => e.target.split("\u0000")[1])).toEqual(["made-up-7", "made-up-8", "made-up-9"]);
  });

  test("affinity lasts its TTL after the last request; the table keeps at most maxSessions", () => {
    let now = T0;
    const state = createMemoryState({ now: () => now, maxSessions: 2 });
    state.bind("s1", "anthropic", "work", 1000);
    now += 999;
    expect(state.affinity("s1", "anthropic")).toBe("work");
    expect(state.affinity("s1", "openai-codex")).toBeUndefined();
    now += 1;
    expect(state.affinity("s1", "anthropic")).toBeUndefined();
    state.bind("a", "p", "1", 10_000);
    state.bind("b", "p", "2", 10_000);
    now += 6_000; // past half the TTL: a's next turn makes it the most recently used
    state.bind("a", "p", "1", 10_000);
    state.bind("c", "p", "3", 10_000);
    expect([state.affinity("a", "p"), state.affinity("b", "p"), state.affinity("c", "p")]).toEqual(["1", undefined, "3"]);
  });
});

// Header sets as the plans send them (captures quoted in the Claude Code and CLIProxyAPI trackers,
// and the Codex CLI's own parser tests).
const CLAUDE_REJECTED = new Headers({
  "anthropic-ratelimit-unified-status": "rejected",
  "anthropic-ratelimit-unified-reset": "1774472400",
  "anthropic-ratelimit-unified-representative-claim": "five_hour",
  "anthropic-ratelimit-unified-5h-status": "rejected",
  "anthropic-ratelimit-unified-5h-utilization": "1.08",
  "anthropic-ratelimit-unified-5h-reset": "1774472400",
  "anthropic-ratelimit-unified-7d-status": "allowed",
  "anthropic-ratelimit-unified-7d-utilization": "0.59",
  "anthropic-ratelimit-unified-7d-reset": "1774580400",
  "anthropic-ratelimit-unified-7d_sonnet-status": "allowed",
  "anthropic-ratelimit-unified-7d_sonnet-utilization": "0.0",
  "anthropic-ratelimit-unified-7d_sonnet-reset": "1774580400",
  "anthropic-ratelimit-unified-fallback-percentage": "0.5",
  "anthropic-ratelimit-unified-overage-status": "rejected",
  "anthropic-ratelimit-unified-overage-disabled-reason": "out_of_credits",
  "retry-after": "2094",
});

const CODEX_429 = new Headers({
  "X-Codex-Active-Limit": "premium",
  "X-Codex-Plan-Type": "plus",
  "X-Codex-Primary-Used-Percent": "100",
  "X-Codex-Primary-Window-Minutes": "300",
  "X-Codex-Primary-Reset-After-Seconds": "13873",
  "X-Codex-Primary-Reset-At": "1777936568",
  "X-Codex-Primary-Over-Secondary-Limit-Percent": "0",
  "X-Codex-Secondary-Used-Percent": "80",
  "X-Codex-Secondary-Window-Minutes": "10080",
  "X-Codex-Secondary-Reset-After-Seconds": "316705",
  "X-Codex-Secondary-Reset-At": "1778239400",
  "X-Codex-Credits-Has-Credits": "False",
  "X-Codex-Credits-Balance": "0",
  "X-Codex-Credits-Unlimited": "False",
});

describe("plan windows, read from real header sets", () => {
  test("Claude: every window with utilisation as a fraction, resets as Unix seconds, the binding claim, overage noted", () => {
    const plan = claudeWindows(CLAUDE_REJECTED, T0)!;
    expect(plan).toMatchObject({ status: "rejected", resetsAt: 1774472400_000, binding: "5h", notes: { "overage-status": "rejected", "overage-disabled-reason": "out_of_credits", "fallback-percentage": "0.5" } });
    expect(plan.windows).toEqual([
      { name: "5h", minutes: 300, utilization: 1.08, status: "rejected", resetsAt: 1774472400_000, scope: null },
      { name: "7d", minutes: 10080, utilization: 0.59, status: "allowed", resetsAt: 1774580400_000, scope: null },
      { name: "7d_sonnet", minutes: 10080, utilization: 0, status: "allowed", resetsAt: 1774580400_000, scope: "sonnet" },
    ]);
    expect(claudeWindows(new Headers({ "x-ratelimit-remaining-requests": "9" }), T0)).toBeUndefined();
    // A hyphenated per-model window is the same window.
    expect(claudeWindows(new Headers({ "anthropic-ratelimit-unified-7d-opus-utilization": "0.5" }), T0)!.windows[0]).toMatchObject({ name: "7d_opus", scope: "opus" });
  });

  test("Codex headers: windows named by their length, never primary/secondary; empty slots dropped; families scoped", () => {
    const plan = codexWindows(CODEX_429, T0)!;
    expect(plan.windows).toEqual([
      { name: "300m", minutes: 300, utilization: 1, status: null, resetsAt: 1777936568_000, scope: null },
      { name: "10080m", minutes: 10080, utilization: 0.8, status: null, resetsAt: 1778239400_000, scope: null },
    ]);
    expect(plan.notes).toMatchObject({ "plan-type": "plus", "active-limit": "premium", "credits-has-credits": "False", "credits-balance": "0" });
    const pro = codexWindows(
      new Headers({
        "x-codex-primary-used-percent": "12.5",
        "x-codex-primary-window-minutes": "10080",
        "x-codex-primary-reset-after-seconds": "60",
        "x-codex-secondary-used-percent": "0",
        "x-codex-secondary-window-minutes": "0",
        "x-codex-secondary-reset-at": "",
        "x-codex-bengalfox-primary-used-percent": "40",
        "x-codex-bengalfox-primary-window-minutes": "300",
        "x-codex-bengalfox-limit-name": "GPT-5.3-Codex-Spark",
      }),
      T0,
    )!;
    expect(pro.windows).toEqual([
      { name: "10080m", minutes: 10080, utilization: 0.125, status: null, resetsAt: T0 + 60_000, scope: null },
      { name: "gpt-5.3-codex-spark 300m", minutes: 300, utilization: 0.4, status: null, resetsAt: null, scope: "gpt-5.3-codex-spark" },
    ]);
  });

  test("Codex's codex.rate_limits event and its usage_limit_reached body", () => {
    const event = codexEventWindows(
      {
        type: "codex.rate_limits",
        plan_type: "plus",
        rate_limits: { allowed: true, limit_reached: false, primary: { used_percent: 96, window_minutes: 300, reset_after_seconds: 600, reset_at: 1787329759 }, secondary: null },
        credits: { has_credits: false, unlimited: false, balance: "0" },
      },
      T0,
    )!;
    expect(event.windows).toEqual([{ name: "300m", minutes: 300, utilization: 0.96, status: null, resetsAt: 1787329759_000, scope: null }]);
    expect(event.notes).toMatchObject({ "plan-type": "plus", "credits-has-credits": "false", "credits-balance": "0" });
    const body = '{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":1777936568,"eligible_promo":null,"resets_in_seconds":13872}}';
    expect(codexLimitBody(body, T0)).toEqual({ type: "usage_limit_reached", resetsAt: 1777936568_000 });
    expect(codexLimitBody('{"error":{"type":"usage_limit_reached","resets_in_seconds":30}}', T0)).toEqual({ type: "usage_limit_reached", resetsAt: T0 + 30_000 });
    expect(codexLimitBody('{"error":{"type":"rate_limit_exceeded"}}', T0)).toBeUndefined();
    expect(codexLimitBody("<html>", T0)).toBeUndefined();
  });

  test("values no plan means are dropped, never shown or acted on: junk, negative, huge, before 2000, more than a month ahead", () => {
    const claude = claudeWindows(
      new Headers({
        "anthropic-ratelimit-unified-status": "allowed",
        "anthropic-ratelimit-unified-reset": "99999999999999999",
        "anthropic-ratelimit-unified-5h-utilization": "abc",
        "anthropic-ratelimit-unified-5h-reset": "1",
        "anthropic-ratelimit-unified-7d-utilization": "1e309",
        "anthropic-ratelimit-unified-7d-reset": String(T0 / 1000 + 40 * 86400),
        "anthropic-ratelimit-unified-7d_opus-utilization": "-1",
      }),
      T0,
    )!;
    expect(claude.resetsAt).toBeNull();
    expect(claude.windows.map((w) => [w.name, w.utilization, w.resetsAt])).toEqual([
      ["5h", null, null],
      ["7d", null, null],
      ["7d_opus", null, null],
    ]);
    const codex = codexWindows(new Headers({ "x-codex-primary-used-percent": "-20", "x-codex-primary-window-minutes": "300", "x-codex-primary-reset-after-seconds": "1e309", "x-codex-secondary-used-percent": "1e300" }), T0)!;
    expect(codex.windows.map((w) => [w.name, w.utilization, w.resetsAt])).toEqual([
      ["300m", null, null],
      ["window", null, null],
    ]);
    expect(codexEventWindows({ rate_limits: { primary: { used_percent: 50, window_minutes: 300, reset_after_seconds: 1e308 } } }, T0)!.windows[0]!.resetsAt).toBeNull();
    for (const odd of [null, [], "x", 5]) expect(codexEventWindows({ rate_limits: odd } as Record<string, unknown>, T0)).toBeUndefined();
    expect(codexLimitBody('{"error":{"type":"usage_limit_reached","resets_at":1e20,"resets_in_seconds":1e300}}', T0)).toEqual({ type: "usage_limit_reached", resetsAt: null });
    // With no time to go by, a rejection demotes for a minute, then the next answer decides.
    expect(windowDemotion({ status: "rejected", resetsAt: null, binding: null, windows: [], notes: {}, observedAt: T0 }, T0, 0.95, "m")).toEqual({ reason: "plan rejected", until: T0 + 60_000, rejected: true });
  });

  test("demotion: rejected until its reset, above spill_at until its reset, back by itself after; per-model windows only for their models", () => {
    const now = 1774472400_000 - 60_000;
    const rejected = claudeWindows(CLAUDE_REJECTED, now)!;
    expect(windowDemotion(rejected, now, 0.95, "claude-opus-4")).toEqual({ reason: "5h window rejected", until: 1774472400_000, rejected: true });
    expect(windowDemotion(rejected, 1774472400_000, 0.95, "claude-opus-4")).toBeUndefined();
    const warm = claudeWindows(new Headers({ "anthropic-ratelimit-unified-status": "allowed_warning", "anthropic-ratelimit-unified-5h-utilization": "0.96", "anthropic-ratelimit-unified-5h-reset": String((T0 + 3_600_000) / 1000) }), T0)!;
    expect(windowDemotion(warm, T0, 0.95, "m")).toEqual({ reason: "5h window at 96% (spill_at 95%)", until: T0 + 3_600_000, rejected: false });
    expect(windowDemotion(warm, T0, 0.97, "m")).toBeUndefined();
    const sonnet = claudeWindows(new Headers({ "anthropic-ratelimit-unified-7d_sonnet-utilization": "1.0", "anthropic-ratelimit-unified-7d_sonnet-reset": String((T0 + 60_000) / 1000) }), T0)!;
    expect(windowDemotion(sonnet, T0, 0.95, "claude-sonnet-4-5")?.reason).toBe("7d_sonnet window at 100% (spill_at 95%)");
    expect(windowDemotion(sonnet, T0, 0.95, "claude-opus-4-1")).toBeUndefined();
  });
});

function registryOf(yaml: string, env: Record<string, string> = {}, logins: Record<string, Record<string, OAuthCredential>> = {}): Registry {
  return buildRegistry({ ...parseConfigText(yaml, "bitrouter.yaml", env), path: "bitrouter.yaml" }, env, logins, T0);
}

const login = (email: string): OAuthCredential => ({ type: "oauth", access_token: `at-${email}`, refresh_token: "rt", expires_at: T0 / 1000 + 3600, account: { email } });

const FLEET = `
health: { cooldown_min_secs: 10 }
providers:
  local:
    api_base: http://127.0.0.1:1/v1
    models: [{ id: m }]
  keys:
    api_base: https://keys.example/v1
    account_strategy: round_robin
    accounts:
      - { label: a, api_key: ka }
      - { label: b, api_key: kb }
      - { label: c, api_key: "\${UNSET_KEY}" }
    models: [{ id: m }]
models:
  smart:
    endpoints:
      - { provider: local, service_id: m }
      - { provider: keys, service_id: m }
`;

const chainOf = (targets: ReturnType<typeof orderTargets>) => targets.map((t) => `${t.source.id}@${t.account.label}${t.demoted ? "*" : ""}`);

describe("ordering a chain by what the router remembers", () => {
  test("accounts become targets; an account whose variable is unset is left out, the others serve", () => {
    const registry = registryOf(FLEET);
    const keys = registry.sources.get("keys")!;
    expect(keys).toMatchObject({ active: true, reason: "2 of 3 accounts usable", multiAccount: true, accountStrategy: "round_robin" });
    expect(keys.accounts.map((a) => [a.label, a.active, a.apiKey])).toEqual([
      ["a", true, "ka"],
      ["b", true, "kb"],
      ["c", false, undefined],
    ]);
    const state = createMemoryState({ now: () => T0 });
    const candidates = resolveModel(registry, "smart", "chat_completions").candidates;
    const first = orderTargets(candidates, { state, settings: registry.settings, now: T0 });
    expect(chainOf(first)).toEqual(["local@default", "keys@a", "keys@b"]);
    expect(first[1]!.apiKey).toBe("ka");
    // round_robin: the next request starts with the next account; the rest still follow.
    expect(chainOf(orderTargets(candidates, { state, settings: registry.settings, now: T0 }))).toEqual(["local@default", "keys@b", "keys@a"]);
    expect(chainOf(orderTargets(candidates, { state, settings: registry.settings, now: T0 }))).toEqual(["local@default", "keys@a", "keys@b"]);
  });

  test("a cooling target moves behind the others, never out; all cooling → all still tried, soonest back first; due → probed in place", () => {
    const registry = registryOf(FLEET.replace("round_robin", "failover"));
    let now = T0;
    const state = createMemoryState({ now: () => now, random: half });
    const candidates = resolveModel(registry, "smart", "chat_completions").candidates;
    const order = () => orderTargets(candidates, { state, settings: registry.settings, now });
    state.record(targetKey("local", "m", "default"), { kind: "overloaded", reason: "HTTP 503", untilMs: T0 + 30_000 }, registry.settings.health);
    expect(chainOf(order())).toEqual(["keys@a", "keys@b", "local@default*"]);
    expect(order()[2]!.demoted).toEqual({ reason: "cooling: HTTP 503", until: T0 + 30_000 });
    state.record(targetKey("keys", "m", "a"), { kind: "overloaded", reason: "HTTP 429", untilMs: T0 + 20_000 }, registry.settings.health);
    state.record(targetKey("keys", "m", "b"), { kind: "overloaded", reason: "HTTP 429", untilMs: T0 + 40_000 }, registry.settings.health);
    expect(chainOf(order())).toEqual(["keys@a*", "local@default*", "keys@b*"]);
    now = T0 + 30_000;
    const later = order();
    expect(chainOf(later)).toEqual(["local@default", "keys@a", "keys@b*"]);
    expect(later.map((t) => t.probe)).toEqual([true, true, false]);
  });

  test("health off: nothing is demoted", () => {
    const registry = registryOf(`health: false\n${FLEET.replace("health: { cooldown_min_secs: 10 }\n", "")}`);
    const state = createMemoryState({ now: () => T0 });
    state.record(targetKey("local", "m", "default"), { kind: "overloaded", reason: "HTTP 503" }, DEFAULT_HEALTH);
    expect(chainOf(orderTargets(resolveModel(registry, "smart", "chat_completions").candidates, { state, settings: registry.settings, now: T0, rotate: false }))).toEqual(["local@default", "keys@a", "keys@b"]);
  });

  test("plan accounts: one per stored login (default first); past spill_at demoted behind the next source until the reset; drain_soonest; affinity", () => {
    const yaml = `
providers:
  api:
    api_base: https://api.example/v1
    api_key: k
    models: [{ id: claude-sonnet-4-5 }]
  anthropic:
    account_strategy: drain_soonest
models:
  claude:
    endpoints:
      - { provider: anthropic, service_id: claude-sonnet-4-5 }
      - { provider: api, service_id: claude-sonnet-4-5 }
`;
    const registry = registryOf(yaml, {}, { anthropic: { work: login("w@x"), default: login("d@x") } });
    const anthropic = registry.sources.get("anthropic")!;
    expect(anthropic.accounts.map((a) => a.label)).toEqual(["default", "work"]);
    expect(anthropic).toMatchObject({ kind: "subscription", active: true, reason: "2 of 2 accounts logged in" });
    let now = T0;
    const state = createMemoryState({ now: () => now });
    const candidates = resolveModel(registry, "claude", "messages").candidates;
    const order = (session?: string) => orderTargets(candidates, { state, settings: registry.settings, now, session });
    const windows = (utilization: number, resetInSecs: number) =>
      claudeWindows(new Headers({ "anthropic-ratelimit-unified-status": "allowed", "anthropic-ratelimit-unified-5h-utilization": String(utilization), "anthropic-ratelimit-unified-5h-reset": String(Math.round(now / 1000 + resetInSecs)) }), now)!;
    // drain_soonest: the account whose window resets first goes first.
    state.recordWindows(accountKey("anthropic", "default"), windows(0.2, 4 * 3600));
    state.recordWindows(accountKey("anthropic", "work"), windows(0.5, 3600));
    expect(chainOf(order())).toEqual(["anthropic@work", "anthropic@default", "api@default"]);
    expect(order()[0]!.accountWhy).toContain("drain_soonest");
    // Affinity: a conversation served by default stays there while default may serve.
    state.bind("conv-1", "anthropic", "default", 60_000);
    expect(chainOf(order("conv-1"))).toEqual(["anthropic@default", "anthropic@work", "api@default"]);
    // work at 96 %: behind the API source until its reset; default still first for new work.
    state.recordWindows(accountKey("anthropic", "work"), windows(0.96, 60));
    expect(chainOf(order())).toEqual(["anthropic@default", "api@default", "anthropic@work*"]);
    // default rejected: both plan accounts wait; the API source serves first.
    state.recordWindows(accountKey("anthropic", "default"), { ...windows(1.0, 120), status: "rejected", resetsAt: now + 120_000 });
    expect(chainOf(order("conv-1"))).toEqual(["api@default", "anthropic@work*", "anthropic@default*"]);
    // After work's window resets it is back by itself.
    now += 61_000;
    expect(chainOf(order())).toEqual(["anthropic@work", "api@default", "anthropic@default*"]);
  });

  test("accounts whose key variables are all unset are each named, not the provider's own variable", () => {
    const registry = registryOf('providers:\n  openrouter:\n    accounts:\n      - { label: team, api_key: "${OR_TEAM_KEY}" }\n      - { label: mine, api_key: "${OR_MY_KEY}" }\n');
    expect(registry.sources.get("openrouter")).toMatchObject({ active: false, reason: "no account is usable: team (OR_TEAM_KEY is not set), mine (OR_MY_KEY is not set)" });
  });

  test("a declared plan account without a login is named with the command that fixes it", () => {
    const registry = registryOf("providers:\n  anthropic:\n    accounts: [{ label: work }, { label: home }]\n", {}, { anthropic: { work: login("w@x") } });
    const anthropic = registry.sources.get("anthropic")!;
    expect(anthropic.accounts).toMatchObject([
      { label: "work", active: true },
      { label: "home", active: false, reason: "not logged in (run `bitrouter login anthropic --label home`)" },
    ]);
    expect(anthropic.reason).toBe("1 of 2 accounts logged in");
  });
});

describe("the status report", () => {
  test("never throws on a broken time, and says a rejection's reset has passed", () => {
    const registry = registryOf("providers:\n  local:\n    api_base: http://127.0.0.1:1/v1\n    models: [{ id: m }]\n", {}, { anthropic: { default: login("d@x") } });
    const state = createMemoryState({ now: () => T0 });
    state.record(targetKey("local", "m", "default"), { kind: "overloaded", reason: "HTTP 429", untilMs: 1e20 }, DEFAULT_HEALTH);
    state.recordWindows(accountKey("anthropic", "default"), { status: "rejected", resetsAt: T0 - 1000, binding: null, windows: [], notes: {}, observedAt: T0 - 5000 });
    const report = statusReport(registry, state, T0, T0);
    // A time past any date is held to a month ahead when recorded.
    expect(report.health[0]).toMatchObject({ until: new Date(T0 + 31 * 86_400_000).toISOString(), in_secs: 31 * 86_400 });
    expect(report.plans[0]).toMatchObject({ status: "rejected", stale: true, demoted: null });
  });
});

describe("the conversation a request belongs to", () => {
  test("Claude Code's metadata.user_id, Codex's session header, prompt_cache_key, else none", () => {
    expect(sessionKey("messages", { metadata: { user_id: "user_abc_account_x_session_123" } }, new Headers())).toBe("user_abc_account_x_session_123");
    expect(sessionKey("responses", { prompt_cache_key: "k" }, new Headers({ session_id: "019a-sess" }))).toBe("019a-sess");
    expect(sessionKey("responses", { prompt_cache_key: "conv-9" }, new Headers())).toBe("conv-9");
    expect(sessionKey("chat_completions", { prompt_cache_key: "c" }, new Headers())).toBe("c");
    expect(sessionKey("chat_completions", {}, new Headers())).toBeUndefined();
    expect(sessionKey("messages", { metadata: { user_id: "x".repeat(500) } }, new Headers())).toMatch(/^#\w+$/);
  });
});

describe("window names a plan invents", () => {
  test("at most 8 windows per plan account are kept (each is a metrics series)", () => {
    const headers = new Headers();
    for (let i = 0; i < 20; i++) headers.set(`anthropic-ratelimit-unified-7d_x${i}-utilization`, "0.5");
    expect(claudeWindows(headers, T0)!.windows).toHaveLength(8);
  });
});
