// A router that remembers (issue #10; SPEC §14–16), end to end on real sockets: a flapping local
// source cools and is probed back; a plan past spill_at or rejected is skipped until its window
// resets (Claude's and Codex's own headers, event and body); accounts rotate, drain and fail
// over; a conversation keeps its account; nothing is refused without an attempt; and `status`
// and `route` show it all. Resets and cooldowns are seconds long, so the tests wait for them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RunningBitRouter, runBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";
import { claudeHeaders, nowSecs, withLogins } from "../support/plans.ts";

let local: FakeUpstream;
let hosted: FakeUpstream;
let claudeApi: FakeUpstream;
let codexApi: FakeUpstream;
const running: RunningBitRouter[] = [];

beforeAll(async () => {
  local = await startFakeUpstream("local");
  hosted = await startFakeUpstream("hosted");
  claudeApi = await startFakeUpstream("claude-plan");
  codexApi = await startFakeUpstream("codex-plan");
});
afterAll(async () => {
  for (const r of running) await r.stop();
  for (const s of [local, hosted, claudeApi, codexApi]) s.stop();
});

function planEnv(): Record<string, string> {
  return { BITROUTER_ANTHROPIC_API_BASE: claudeApi.baseUrl, BITROUTER_OPENAI_CODEX_API_BASE: codexApi.baseUrl, HOSTED_KEY: "sk-hosted-0123456789" };
}

async function start(config: string, dir?: string): Promise<RunningBitRouter> {
  const r = await startBitRouter({ config, dir, env: planEnv() });
  running.push(r);
  return r;
}

async function chat(r: RunningBitRouter, model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${r.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra }),
  });
}

async function messages(r: RunningBitRouter, model: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${r.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }], ...extra }),
  });
}

async function servedBy(response: Response): Promise<string> {
  await response.text();
  expect(response.status).toBe(200);
  return `${response.headers.get("x-bitrouter-provider")}@${response.headers.get("x-bitrouter-account")}`;
}

async function status(r: RunningBitRouter): Promise<{ health: Record<string, unknown>[]; plans: Record<string, unknown>[] }> {
  const response = await fetch(`${r.url}/bitrouter/status`);
  expect(response.status).toBe(200);
  return (await response.json()) as { health: Record<string, unknown>[]; plans: Record<string, unknown>[] };
}

describe("a flapping local source", () => {
  test("fails 3 times, then cools: later requests skip it; one probe after the cooldown brings it back (4 attempts in all)", async () => {
    local.reset();
    hosted.reset();
    const r = await start(`
health: { cooldown_min_secs: 1 }
upstream: { max_retry_wait_secs: 1 }
providers:
  local:
    api_base: ${local.baseUrl}
    models: [{ id: m }]
  hosted:
    api_base: ${hosted.baseUrl}
    api_key: \${HOSTED_KEY}
    models: [{ id: m }]
models:
  smart:
    endpoints:
      - { provider: local, service_id: m }
      - { provider: hosted, service_id: m }
`);
    local.queue.push("status:500", "status:500", "status:500");
    const served: string[] = [];
    for (let i = 0; i < 6; i++) served.push(await servedBy(await chat(r, "smart")));
    expect(served).toEqual(Array(6).fill("hosted@default"));
    // Two tries on the first request (one retry), one on the second, then none while it cools.
    expect(local.requests("/v1/chat/completions")).toHaveLength(3);

    const report = await status(r);
    expect(report.health).toEqual([expect.objectContaining({ provider: "local", model: "m", account: "default", state: "cooling", reason: "3 failures in a row, last: HTTP 500: fake upstream says 500" })]);
    const route = (await (await fetch(`${r.url}/bitrouter/route?model=smart`)).json()) as { chain: { provider: string; demoted?: { reason: string } }[] };
    expect(route.chain.map((c) => c.provider)).toEqual(["hosted", "local"]);
    expect(route.chain[1]!.demoted?.reason).toBe("cooling: 3 failures in a row, last: HTTP 500: fake upstream says 500");
    expect(r.stderr()).toMatch(/request finished .*provider=hosted .*demoted="local:m@default \(cooling: 3 failures in a row/);

    await Bun.sleep(1300);
    expect(await servedBy(await chat(r, "smart"))).toBe("local@default");
    expect(await servedBy(await chat(r, "smart"))).toBe("local@default");
    expect(local.requests("/v1/chat/completions")).toHaveLength(5);
    // 3 failures + the probe before it served again: LiteLLM's tuned cooldown needs 4 in the same scenario.
    expect((await status(r)).health).toEqual([]);
  });

  test("when every target is cooling, the chain is still tried in order: nothing is refused without an attempt", async () => {
    local.reset();
    const r = await start(`
health: { cooldown_min_secs: 30 }
providers:
  local:
    api_base: ${local.baseUrl}
    models: [{ id: m }]
`);
    local.mode = "status:503";
    const first = await chat(r, "local:m");
    expect(first.status).toBe(503);
    const cooled = await status(r);
    expect(cooled.health[0]).toMatchObject({ provider: "local", state: "cooling" });
    const before = local.requests("/v1/chat/completions").length;
    local.mode = "ok";
    expect(await servedBy(await chat(r, "local:m"))).toBe("local@default");
    expect(local.requests("/v1/chat/completions").length).toBe(before + 1);
    expect((await status(r)).health).toEqual([]);
  });
});

const CLAUDE_CONFIG = (extra = "") => `
upstream: { max_retry_wait_secs: 1 }
providers:
  hosted:
    api_base: ${hosted.baseUrl}
    api_key: \${HOSTED_KEY}
    models: [{ id: claude-sonnet-4-5 }]
${extra}
models:
  claude:
    endpoints:
      - { provider: anthropic, service_id: claude-sonnet-4-5 }
      - { provider: hosted, service_id: claude-sonnet-4-5 }
`;

describe("plan windows move work off a plan before it runs out, and back when it resets", () => {
  test("Claude at 96 %: the next request goes to the API source without touching the plan; back to the plan after the reset", async () => {
    claudeApi.reset();
    hosted.reset();
    const r = await start(CLAUDE_CONFIG(), withLogins({ anthropic: { default: "sk-ant-oat01-a" } }));
    const reset = nowSecs() + 3;
    claudeApi.answerHeaders = () => claudeHeaders(0.96, reset, "allowed_warning");

    const first = await messages(r, "claude");
    expect(await servedBy(first)).toBe("anthropic@default");
    // Claude Code's own usage display reads these off the answer.
    expect(first.headers.get("anthropic-ratelimit-unified-5h-utilization")).toBe("0.96");
    expect(first.headers.get("anthropic-ratelimit-unified-status")).toBe("allowed_warning");

    expect(await servedBy(await messages(r, "claude"))).toBe("hosted@default");
    expect(await servedBy(await messages(r, "claude"))).toBe("hosted@default");
    expect(claudeApi.requests("/v1/messages")).toHaveLength(1);

    const plans = (await status(r)).plans;
    expect(plans).toEqual([
      expect.objectContaining({
        provider: "anthropic",
        account: "default",
        status: "allowed_warning",
        binding: "5h",
        demoted: expect.objectContaining({ reason: "5h window at 96% (spill_at 95%)", until: new Date(reset * 1000).toISOString() }),
      }),
    ]);
    expect((plans[0]!.windows as { name: string; utilization: number }[]).map((w) => [w.name, w.utilization])).toEqual([
      ["5h", 0.96],
      ["7d", 0.31],
    ]);
    const text = await runBitRouter(["status", "--url", r.url], { cwd: r.dir, env: planEnv() });
    expect(text.stdout).toMatch(/plans: +\(spill_at 95%/);
    expect(text.stdout).toMatch(/anthropic +allowed_warning +demoted until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in \ds\): 5h window at 96% \(spill_at 95%\)/);
    expect(text.stdout).toMatch(/5h +\[###################-\] +96% +allowed_warning +resets /);

    claudeApi.answerHeaders = () => claudeHeaders(0.02, nowSecs() + 5 * 3600);
    await Bun.sleep(Math.max(0, reset * 1000 - Date.now()) + 200);
    expect(await servedBy(await messages(r, "claude"))).toBe("anthropic@default");
    expect(claudeApi.requests("/v1/messages")).toHaveLength(2);
  });

  test("Claude rejected with a 429: the plan is not tried again until its reset", async () => {
    claudeApi.reset();
    hosted.reset();
    const r = await start(CLAUDE_CONFIG(), withLogins({ anthropic: { default: "sk-ant-oat01-b" } }));
    const reset = nowSecs() + 2;
    claudeApi.answerHeaders = () => claudeHeaders(1.02, reset, "rejected");
    claudeApi.mode = "status:429";
    expect(await servedBy(await messages(r, "claude"))).toBe("hosted@default");
    expect(await servedBy(await messages(r, "claude"))).toBe("hosted@default");
    expect(await servedBy(await messages(r, "claude"))).toBe("hosted@default");
    // The 429 said when: no retry of the plan, no second try on later requests.
    expect(claudeApi.requests("/v1/messages")).toHaveLength(1);
    const report = await status(r);
    expect(report.plans[0]).toMatchObject({ status: "rejected", demoted: { reason: "5h window rejected" } });
    expect(report.health[0]).toMatchObject({ provider: "anthropic", state: "cooling", until: new Date(reset * 1000).toISOString() });

    claudeApi.mode = "ok";
    claudeApi.answerHeaders = () => claudeHeaders(0.01, nowSecs() + 5 * 3600);
    await Bun.sleep(Math.max(0, reset * 1000 - Date.now()) + 200);
    expect(await servedBy(await messages(r, "claude"))).toBe("anthropic@default");
  });

  test("Codex: x-codex-* windows past spill_at, codex.rate_limits in the stream, and usage_limit_reached with resets_in_seconds", async () => {
    codexApi.reset();
    hosted.reset();
    const r = await start(
      `
upstream: { max_retry_wait_secs: 1 }
subscriptions: { spill_at: 0.9 }
providers:
  hosted:
    api_base: ${hosted.baseUrl}
    api_key: \${HOSTED_KEY}
    models: [{ id: gpt-5 }]
models:
  gpt:
    endpoints:
      - { provider: openai-codex, service_id: gpt-5 }
      - { provider: hosted, service_id: gpt-5 }
`,
      withLogins({ "openai-codex": { default: "codex-token" } }),
    );
    // 1. The stream's own event states 95 % of the 5-hour window (the headers say less): spill.
    const reset = nowSecs() + 2;
    const event = { type: "codex.rate_limits", plan_type: "plus", rate_limits: { allowed: true, limit_reached: false, primary: { used_percent: 95, window_minutes: 300, reset_at: reset }, secondary: null }, credits: { has_credits: false, unlimited: false, balance: "0" } };
    codexApi.answerHeaders = () => ({ "x-codex-primary-used-percent": "40", "x-codex-primary-window-minutes": "300", "x-codex-primary-reset-at": String(reset), "x-codex-plan-type": "plus" });
    codexApi.script = {
      frames: [
        'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-5","output":[]}}\n\n',
        `event: codex.rate_limits\ndata: ${JSON.stringify(event)}\n\n`,
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"plan"}\n\n',
        'event: response.completed\ndata: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","object":"response","status":"completed","model":"gpt-5","output":[{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"plan","annotations":[]}]}],"usage":{"input_tokens":5,"output_tokens":1,"total_tokens":6}}}\n\n',
      ],
    };
    expect(await servedBy(await chat(r, "gpt", { stream: true }))).toBe("openai-codex@default");
    let plans = (await status(r)).plans;
    expect(plans[0]).toMatchObject({ provider: "openai-codex", demoted: { reason: "300-minute window at 95% (spill_at 90%)" }, notes: { "plan-type": "plus", "credits-balance": "0" } });
    expect(await servedBy(await chat(r, "gpt"))).toBe("hosted@default");
    expect(codexApi.requests("/v1/responses")).toHaveLength(1);

    // 2. After the reset it serves again, and then says its limit is reached, with the time it comes back.
    await Bun.sleep(Math.max(0, reset * 1000 - Date.now()) + 200);
    codexApi.answerHeaders = undefined;
    codexApi.script = { status: 429, json: { error: { type: "usage_limit_reached", message: "The usage limit has been reached", plan_type: "plus", resets_in_seconds: 2, eligible_promo: null } } };
    expect(await servedBy(await chat(r, "gpt"))).toBe("hosted@default");
    expect(await servedBy(await chat(r, "gpt"))).toBe("hosted@default");
    expect(codexApi.requests("/v1/responses")).toHaveLength(2);
    plans = (await status(r)).plans;
    expect(plans[0]).toMatchObject({ status: "rejected", notes: { "rejected-type": "usage_limit_reached" }, demoted: { reason: "plan rejected" } });
    codexApi.script = undefined;
    await Bun.sleep(2300);
    expect(await servedBy(await chat(r, "gpt"))).toBe("openai-codex@default");
  });
});

describe("accounts", () => {
  const KEYS = (strategy: string) => `
providers:
  keys:
    api_base: ${hosted.baseUrl}
    account_strategy: ${strategy}
    accounts:
      - { label: first, api_key: sk-first-0123456789 }
      - { label: second, api_key: sk-second-0123456789 }
    models: [{ id: m }]
`;
  const keyOf = (i: number) => hosted.requests("/v1/chat/completions")[i]!.headers.authorization;

  test("round_robin rotates the first account per request; a conversation keeps its account (Claude Code's metadata.user_id)", async () => {
    hosted.reset();
    const r = await start(KEYS("round_robin"));
    expect([await servedBy(await chat(r, "keys:m")), await servedBy(await chat(r, "keys:m")), await servedBy(await chat(r, "keys:m"))]).toEqual(["keys@first", "keys@second", "keys@first"]);
    expect([keyOf(0), keyOf(1), keyOf(2)]).toEqual(["Bearer sk-first-0123456789", "Bearer sk-second-0123456789", "Bearer sk-first-0123456789"]);

    // Conversation A starts on second (its turn), B on first; each then stays where it started,
    // whatever the rotation says.
    const turn = async (session: string) => {
      const response = await fetch(`${r.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "keys:m", max_tokens: 20, metadata: { user_id: `user_1_account_2_session_${session}` }, messages: [{ role: "user", content: "hi" }] }),
      });
      return servedBy(response);
    };
    const a = await turn("A");
    const b = await turn("B");
    expect([a, b]).toEqual(["keys@second", "keys@first"]);
    expect([await turn("B"), await turn("A"), await turn("A"), await turn("B")]).toEqual([b, a, a, b]);
  });

  test("failover: declared order; an account that answers 429 cools and the other serves first until it is back", async () => {
    hosted.reset();
    const r = await start(KEYS("failover"));
    hosted.queue.push("status:429:retry-after=30");
    expect(await servedBy(await chat(r, "keys:m"))).toBe("keys@second");
    expect(await servedBy(await chat(r, "keys:m"))).toBe("keys@second");
    expect([keyOf(0), keyOf(1), keyOf(2)]).toEqual(["Bearer sk-first-0123456789", "Bearer sk-second-0123456789", "Bearer sk-second-0123456789"]);
    const report = await status(r);
    expect(report.health[0]).toMatchObject({ provider: "keys", account: "first", state: "cooling", reason: expect.stringContaining("HTTP 429") });
    const cli = await runBitRouter(["route", "keys:m", "--url", r.url], { cwd: r.dir });
    expect(cli.stdout).toMatch(/1\. keys +m +account second/);
    expect(cli.stdout).toMatch(/2\. keys +m +account first[\s\S]*demoted until .*: cooling: HTTP 429/);
  });

  test("drain_soonest across two Claude logins: each is learned once, then the one whose window resets first serves", async () => {
    claudeApi.reset();
    const dir = withLogins({ anthropic: { default: "tok-default", work: "tok-work" } });
    const r = await start(CLAUDE_CONFIG("  anthropic:\n    account_strategy: drain_soonest\n"), dir);
    const resets: Record<string, number> = { "Bearer tok-default": nowSecs() + 4 * 3600, "Bearer tok-work": nowSecs() + 3600 };
    claudeApi.answerHeaders = (request) => claudeHeaders(0.3, resets[request.headers.authorization ?? ""] ?? 0);
    const served = [];
    for (let i = 0; i < 4; i++) served.push(await servedBy(await messages(r, "claude")));
    expect(served).toEqual(["anthropic@default", "anthropic@work", "anthropic@work", "anthropic@work"]);
    const report = await status(r);
    expect(report.plans.map((p) => p.account)).toEqual(["default", "work"]);
  });
});

describe("logins per label", () => {
  test("status lists every login with its label; logout --label removes one", async () => {
    const dir = withLogins({ anthropic: { default: "t1", work: "t2" } });
    const json = JSON.parse((await runBitRouter(["status", "--json"], { cwd: dir, env: planEnv() })).stdout) as {
      subscriptions: { provider: string; label: string | null; account?: string }[];
      sources: { provider: string; reason: string; accounts?: { label: string; active: boolean }[] }[];
    };
    expect(json.subscriptions.filter((s) => s.provider === "anthropic")).toMatchObject([
      { label: "default", account: "default@example.com" },
      { label: "work", account: "work@example.com" },
    ]);
    expect(json.sources.find((s) => s.provider === "anthropic")).toMatchObject({ reason: "2 of 2 accounts logged in", accounts: [{ label: "default", active: true }, { label: "work", active: true }] });
    const out = await runBitRouter(["logout", "anthropic", "--label", "work"], { cwd: dir });
    expect(out).toMatchObject({ code: 0, stdout: expect.stringContaining("Logged out of anthropic account 'work'") });
    const again = await runBitRouter(["logout", "anthropic", "--label", "work"], { cwd: dir });
    expect(again).toMatchObject({ code: 1, stderr: "anthropic (account 'work'): no stored login; stored accounts: default\n" });
    const text = (await runBitRouter(["status"], { cwd: dir, env: planEnv() })).stdout;
    expect(text).toMatch(/anthropic +logged in as default@example.com/);
    expect(text).not.toContain("work@example.com");
    expect((await runBitRouter(["login", "anthropic", "--label", "bad label"], { cwd: dir })).code).toBe(2);
  });
});

describe("what a broken source or a wrong address cannot do", () => {
  test("a Retry-After of centuries cools for a day at most, and status and route keep answering", async () => {
    hosted.reset();
    const r = await start(`
providers:
  hosted:
    api_base: ${hosted.baseUrl}
    api_key: \${HOSTED_KEY}
    models: [{ id: m }]
`);
    hosted.queue.push("status:429:retry-after=99999999999999999999");
    expect((await chat(r, "hosted:m")).status).toBe(429);
    const report = await status(r);
    expect(report.health[0]).toMatchObject({ provider: "hosted", state: "cooling" });
    expect(report.health[0]!.in_secs as number).toBeLessThanOrEqual(86_400);
    expect((await fetch(`${r.url}/bitrouter/route?model=hosted:m`)).status).toBe(200);
    // The live server's own answer for an unknown model, not the config's.
    const unknown = await runBitRouter(["route", "nosuch", "--json", "--url", `${r.url}/v1`], { cwd: r.dir });
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ live: true, error: { status: 404 } });
    expect((await runBitRouter(["route", "hosted:m", "--url", "ftp://x"], { cwd: r.dir })).code).toBe(2);
    // A password in the address would be printed back; it is refused instead.
    const withPassword = await runBitRouter(["route", "hosted:m", "--url", r.url.replace("http://", "http://user:pw@")], { cwd: r.dir });
    expect(withPassword.code).toBe(2);
    expect(withPassword.stdout + withPassword.stderr).not.toContain("pw@");
  });

  test("--url at something that is not BitRouter says so, with no stack trace", async () => {
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ hello: "world" }) });
    try {
      const url = `http://127.0.0.1:${other.port}`;
      const s = await runBitRouter(["status", "--url", url]);
      expect(s.code).toBe(0);
      expect(s.stdout).toContain(`health and plan windows: known only to a running BitRouter; ${url}: it answered 200, but not as BitRouter does`);
      expect(s.stdout).toContain(`server:  ${url} answered 200, but not as BitRouter does`);
      const route = await runBitRouter(["route", "groq:llama-3.1-8b-instant", "--url", url], { env: { GROQ_API_KEY: "gsk-x" } });
      expect(route.code).toBe(0);
      expect(route.stderr).toContain("could not be asked (it answered 200, but not as BitRouter does");
      expect(route.stdout).toContain("the configured order");
      expect(`${s.stderr}${route.stderr}`).not.toMatch(/\bat \S+:\d+:\d+|TypeError|undefined is not/);
    } finally {
      other.stop(true);
    }
  });

  test("config check counts stored logins: a logged-in plan is not reported inactive; an account that cannot be used is", async () => {
    const dir = withLogins({ anthropic: { default: "t" } });
    writeFileSync(join(dir, "bitrouter.yaml"), 'providers:\n  anthropic: {}\n  openrouter:\n    accounts:\n      - { label: team, api_key: "${OR_TEAM_KEY}" }\n      - { label: mine, api_key: sk-or-mine-0123456789 }\n');
    const check = await runBitRouter(["config", "check"], { cwd: dir });
    expect(check.code).toBe(0);
    expect(check.stderr).not.toContain("'anthropic' will be inactive");
    expect(check.stderr).toContain("note: account 'team' of provider 'openrouter' will not be used: OR_TEAM_KEY is not set");
  });

  test("route --session shows the account a conversation is bound to", async () => {
    hosted.reset();
    const r = await start(`
providers:
  keys:
    api_base: ${hosted.baseUrl}
    account_strategy: round_robin
    accounts:
      - { label: first, api_key: sk-first-0123456789 }
      - { label: second, api_key: sk-second-0123456789 }
    models: [{ id: m }]
`);
    expect(await servedBy(await chat(r, "keys:m", { prompt_cache_key: "conv-7" }))).toBe("keys@first");
    // Next by rotation is second; the conversation stays on first.
    const plain = (await (await fetch(`${r.url}/bitrouter/route?model=keys:m`)).json()) as { chain: { account: string }[] };
    expect(plain.chain.map((c) => c.account)).toEqual(["second", "first"]);
    const bound = await runBitRouter(["route", "keys:m", "--session", "conv-7", "--url", r.url], { cwd: r.dir });
    expect(bound.stdout).toMatch(/1\. keys +m +account first[\s\S]*session affinity/);
  });
});
