// Several instances, one brain (SPEC §20): three BitRouter processes on different ports share
// their state through a real redis-server. What one learns (a rejected plan window, a cooled
// source, a conversation's account, a refreshed login) the others act on; Redis going away
// costs no request, and its return shares state again; the fleet's usage reads as one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBitRouter, type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeAuth, startFakeAuth } from "../support/fake-auth.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";
import { claudeHeaders, nowSecs, withLogins } from "../support/plans.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

let redis: TestRedis;
let hosted: FakeUpstream;
let flaky: FakeUpstream;
let claudeApi: FakeUpstream;
let claudeAuth: FakeAuth;
const running: RunningBitRouter[] = [];

beforeAll(async () => {
  redis = await startRedis();
  hosted = await startFakeUpstream("hosted");
  flaky = await startFakeUpstream("flaky");
  claudeApi = await startFakeUpstream("claude-plan");
  claudeAuth = await startFakeAuth("anthropic");
});
afterAll(async () => {
  for (const r of running) await r.stop();
  for (const s of [hosted, flaky, claudeApi, claudeAuth]) s.stop();
  await redis.kill();
});

function env(): Record<string, string> {
  return {
    BITROUTER_ANTHROPIC_API_BASE: claudeApi.baseUrl,
    BITROUTER_ANTHROPIC_TOKEN_URL: `${claudeAuth.url}/token`,
    HOSTED_KEY: "sk-hosted-0123456789",
  };
}

/** The config every instance of a fleet shares: its own prefix, so tests do not see each other's state. */
function fleetConfig(prefix: string, extra = ""): string {
  return `
state:
  redis: ${redis.url}
  prefix: ${prefix}
health: { cooldown_min_secs: 30 }
upstream: { max_retry_wait_secs: 0 }
providers:
  hosted:
    api_base: ${hosted.baseUrl}
    api_key: \${HOSTED_KEY}
    models: [{ id: claude-sonnet-4-5 }, { id: m }]
  flaky:
    api_base: ${flaky.baseUrl}
    models: [{ id: m }]
${extra}
models:
  claude:
    endpoints:
      - { provider: anthropic, service_id: claude-sonnet-4-5 }
      - { provider: hosted, service_id: claude-sonnet-4-5 }
  chain:
    endpoints:
      - { provider: flaky, service_id: m }
      - { provider: hosted, service_id: m }
`;
}

/** A provider on the hosted fake with two keyed accounts, as config lines under `providers:`. */
function twoAccounts(id: string, strategy: string, first: string, second: string): string {
  return `
  ${id}:
    api_base: ${hosted.baseUrl}
    models: [{ id: m }]
    account_strategy: ${strategy}
    accounts:
      - { label: ${first}, api_key: sk-${first}-0123456789 }
      - { label: ${second}, api_key: sk-${second}-0123456789 }
`;
}

/** Three instances of one fleet, each with its own home (from `home()`, e.g. stored logins). */
async function fleet(prefix: string, extra = "", home: () => string = () => mkdtempSync(join(tmpdir(), "bitrouter-fleet-"))): Promise<RunningBitRouter[]> {
  const config = fleetConfig(prefix, extra);
  const instances = await Promise.all([0, 1, 2].map(() => startBitRouter({ config, dir: home(), env: env() })));
  running.push(...instances);
  for (const r of instances) expect(r.stdout()).toContain(`state:   shared through ${redis.url} (prefix ${prefix})`);
  return instances;
}

async function messages(r: RunningBitRouter, model: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${r.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body: JSON.stringify({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }] }),
  });
}

async function chat(r: RunningBitRouter, model: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${r.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
}

async function servedBy(response: Response): Promise<string> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return `${response.headers.get("x-bitrouter-provider")}@${response.headers.get("x-bitrouter-account")}`;
}

interface Status {
  shared: { redis: string; prefix: string; up: boolean } | null;
  health: { provider: string; state: string; reason: string }[];
  plans: { provider: string; account: string; status: string | null }[];
}

async function status(r: RunningBitRouter): Promise<Status> {
  return (await (await fetch(`${r.url}/bitrouter/status`)).json()) as Status;
}

/** Polls until `check` holds (what another instance announced takes a moment to arrive). */
async function eventually(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(25);
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

describe("three instances share one state through redis", () => {
  test("a plan window rejected on A is respected by B and C: neither touches the plan until it resets", async () => {
    claudeApi.reset();
    hosted.reset();
    const [a, b, c] = await fleet("plans", "", () => withLogins({ anthropic: { default: "sk-ant-oat01-fleet" } }));
    claudeApi.answerHeaders = () => claudeHeaders(1.02, nowSecs() + 600, "rejected");
    claudeApi.mode = "status:429";
    expect(await servedBy(await messages(a!, "claude"))).toBe("hosted@default");
    expect(claudeApi.requests("/v1/messages")).toHaveLength(1);
    for (const other of [b!, c!]) await eventually("the rejection reaches the other instances", async () => (await status(other)).plans[0]?.status === "rejected");
    expect(await servedBy(await messages(b!, "claude"))).toBe("hosted@default");
    expect(await servedBy(await messages(c!, "claude"))).toBe("hosted@default");
    // Only A ever asked the plan.
    expect(claudeApi.requests("/v1/messages")).toHaveLength(1);
    claudeApi.mode = "ok";
  });

  test("a source cooled by A is demoted on B and C", async () => {
    flaky.reset();
    hosted.reset();
    const [a, b, c] = await fleet("cooling");
    flaky.queue.push("status:429:retry-after=60");
    expect(await servedBy(await chat(a!, "chain"))).toBe("hosted@default");
    for (const other of [b!, c!]) {
      await eventually("the cooling reaches the other instances", async () => (await status(other)).health.some((h) => h.provider === "flaky" && h.state === "cooling"));
      expect(await servedBy(await chat(other, "chain"))).toBe("hosted@default");
    }
    expect(flaky.requests("/v1/chat/completions")).toHaveLength(1);
    const route = await runBitRouter(["route", "chain", "--url", b!.url], { cwd: b!.dir });
    expect(route.stdout).toMatch(/flaky[\s\S]*demoted until .*: cooling: HTTP 429/);
  });

  test("one conversation keeps its account whichever instance serves it", async () => {
    hosted.reset();
    const [a, b, c] = await fleet("affinity", twoAccounts("keys", "round_robin", "first", "second"));
    // A's first turn of another conversation takes `first`; this conversation gets `second` there.
    expect(await servedBy(await chat(a!, "keys:m", { "x-session-id": "warm-up" }))).toBe("keys@first");
    expect(await servedBy(await chat(a!, "keys:m", { "x-session-id": "conversation-1" }))).toBe("keys@second");
    for (const other of [b!, c!]) {
      await eventually("the binding reaches the other instances", async () => {
        const route = (await (await fetch(`${other.url}/bitrouter/route?model=keys:m&session=conversation-1`)).json()) as { chain: { account: string }[] };
        return route.chain[0]?.account === "second";
      });
      // Alone, B and C would start their own rotation at `first`.
      expect(await servedBy(await chat(other, "keys:m", { "x-session-id": "conversation-1" }))).toBe("keys@second");
    }
  });

  test("20 concurrent requests on three instances with an expired login: exactly one refresh at the authorisation server", async () => {
    claudeApi.reset();
    claudeApi.answerHeaders = () => claudeHeaders(0.1, nowSecs() + 3600);
    claudeAuth.refreshes.length = 0;
    claudeAuth.rotate = true;
    const expiredHome = () => {
      const dir = mkdtempSync(join(tmpdir(), "bitrouter-fleet-login-"));
      mkdirSync(join(dir, ".bitrouter"), { recursive: true });
      const login = { type: "oauth", access_token: "sk-ant-oat01-expired", refresh_token: "sk-ant-ort01-shared", expires_at: nowSecs() - 60 };
      writeFileSync(join(dir, ".bitrouter", "credentials.json"), JSON.stringify({ anthropic: { default: login } }), { mode: 0o600 });
      return dir;
    };
    const instances = await fleet("refresh", "", expiredHome);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => messages(instances[i % 3]!, "anthropic:claude-sonnet-4-5")));
    const served = await Promise.all(answers.map(servedBy));
    expect(served.every((s) => s === "anthropic@default")).toBe(true);
    // One refresh for the whole fleet; the rotated refresh token was never used twice.
    expect(claudeAuth.refreshes).toHaveLength(1);
    const token = claudeAuth.lastAccessToken();
    expect(new Set(claudeApi.requests("/v1/messages").map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${token}`]));
    claudeAuth.rotate = false;
  });

  test("redis stopped mid-load: no request fails; started again: the instances share state again", async () => {
    hosted.reset();
    flaky.reset();
    const [a, b, c] = await fleet("outage");
    const failures: string[] = [];
    let sent = 0;
    let loading = true;
    const load = Promise.all(
      [a!, b!, c!].map(async (r) => {
        while (loading) {
          const response = await chat(r, "hosted:m");
          sent++;
          if (response.status !== 200) failures.push(`${response.status}: ${await response.text()}`);
          else await response.text();
        }
      }),
    );
    await Bun.sleep(300);
    await redis.kill();
    await eventually("every instance notices", async () => (await Promise.all([a!, b!, c!].map(status))).every((s) => s.shared?.up === false));
    await Bun.sleep(500);
    loading = false;
    await load;
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(30);
    // Alone meanwhile: a cooling learned by A stays with A.
    flaky.queue.push("status:429:retry-after=60");
    expect(await servedBy(await chat(a!, "chain"))).toBe("hosted@default");
    expect(a!.stderr()).toContain("redis unreachable: sharing state stops, this instance goes on with its own");

    await redis.start();
    await eventually("every instance reconnects", async () => (await Promise.all([a!, b!, c!].map(status))).every((s) => s.shared?.up === true), 10_000);
    // A's cooling from the outage reached B with the resync.
    await eventually("A's cooling is shared after the resync", async () => (await status(b!)).health.some((h) => h.provider === "flaky" && h.state === "cooling"));
    expect(await servedBy(await chat(c!, "chain"))).toBe("hosted@default");
    expect(flaky.requests("/v1/chat/completions")).toHaveLength(1);
    expect(c!.stderr()).toContain("redis reachable again: sharing state");
  });

  test("usage from all three instances in one `bitrouter usage --redis`", async () => {
    hosted.reset();
    const instances = await fleet("usage");
    for (const [i, r] of instances.entries()) {
      for (let n = 0; n <= i; n++) expect(await servedBy(await chat(r, "hosted:m"))).toBe("hosted@default");
    }
    // Each instance appends its rows to the stream in the background (every 250 ms).
    const config = join(instances[0]!.dir, "bitrouter.yaml");
    let summary: { total: { requests: number }; groups: { key: string; requests: number }[] } | undefined;
    await eventually("all six rows are in the stream", async () => {
      const run = await runBitRouter(["usage", "--redis", "-c", config, "--json", "--by", "source"], { cwd: instances[0]!.dir, env: env() });
      if (run.code !== 0) throw new Error(run.stderr);
      summary = JSON.parse(run.stdout);
      return summary!.total.requests === 6;
    });
    expect(summary!.groups).toEqual([expect.objectContaining({ key: "hosted", requests: 6 })]);
    const text = await runBitRouter(["usage", "--redis", "-c", config], { cwd: instances[0]!.dir, env: env() });
    expect(text.stdout).toContain(`(redis ${redis.url} (prefix usage))`);
    expect(text.stdout).toMatch(/total +6 /);
  });
});

describe("what anything else writes to redis is checked before it is believed", () => {
  test("malformed announcements, keys and stream entries change nothing: requests, status, metrics, resync and usage all work", async () => {
    hosted.reset();
    flaky.reset();
    const drain = twoAccounts("pair", "drain_soonest", "a", "b");
    const [a] = await fleet("garbage", drain);
    const at = Date.now();
    // Each of these once broke routing, /metrics, `bitrouter status` or every later resync.
    await redis.send("PUBLISH", "garbage:events", JSON.stringify({ from: "x", kind: "windows", key: "pair\u0000a", value: { observedAt: at } }));
    await redis.send("PUBLISH", "garbage:events", JSON.stringify({ from: "x", kind: "health", key: "hosted\u0000m\u0000default", value: { state: "cooling", until: at + 60_000, at } }));
    await redis.send("PUBLISH", "garbage:events", "not json");
    await redis.send("SET", "garbage:h:zzz", "notjson");
    await redis.send("SET", "garbage:w:pair\u0000b", JSON.stringify({ observedAt: 5, windows: "nope" }));
    await redis.send("XADD", "garbage:usage", "*", "row", "{}");
    await redis.send("XADD", "garbage:usage", "*", "row", '"a string"');
    // A real cooling from A, which an instance started now must still learn in its resync.
    flaky.queue.push("status:429:retry-after=60");
    expect(await servedBy(await chat(a!, "chain"))).toBe("hosted@default");
    await Bun.sleep(200);
    for (let i = 0; i < 3; i++) expect(await servedBy(await chat(a!, "pair:m"))).toMatch(/^pair@[ab]$/);
    expect((await fetch(`${a!.url}/metrics`)).status).toBe(200);
    const cli = await runBitRouter(["status", "--url", a!.url], { cwd: a!.dir });
    expect(cli.code).toBe(0);
    const late = await startBitRouter({ config: fleetConfig("garbage", drain), env: env() });
    running.push(late);
    await eventually("a later instance learns the real cooling despite the garbage", async () => (await status(late)).health.some((h) => h.provider === "flaky" && h.state === "cooling"));
    expect(late.stderr()).not.toContain("resync failed");
    expect(await servedBy(await chat(late, "pair:m"))).toMatch(/^pair@[ab]$/);
    await Bun.sleep(400);
    const usage = await runBitRouter(["usage", "--redis", "-c", late.configPath, "--json"], { cwd: late.dir, env: env() });
    expect(usage.stderr).toBe("");
    expect(JSON.parse(usage.stdout).total.requests).toBe(5);
  });
});

describe("configuration and failure messages", () => {
  test("redis unreachable at start: the instance serves alone, says so, and `usage --redis` explains", async () => {
    hosted.reset();
    const config = `state: { redis: "redis://:s3cret-pass@127.0.0.1:1" }\nproviders:\n  hosted:\n    api_base: ${hosted.baseUrl}\n    models: [{ id: m }]\n`;
    const r = await startBitRouter({ config, env: env() });
    running.push(r);
    expect(r.stdout()).toContain("state:   shared through redis://:***@127.0.0.1:1 (prefix bitrouter), unreachable for now");
    expect(await servedBy(await chat(r, "hosted:m"))).toBe("hosted@default");
    expect(r.stdout() + r.stderr()).not.toContain("s3cret-pass");
    const usage = await runBitRouter(["usage", "--redis", "-c", r.configPath], { cwd: r.dir, env: env() });
    expect(usage.code).toBe(1);
    expect(usage.stderr).toBe("error: cannot reach redis at redis://:***@127.0.0.1:1 (prefix bitrouter): check the host, port and password in state.redis\n");
  });

  test.each(["http://127.0.0.1:6379", "redis://:hunter2@127.0.0.1:99999", "redis://:pw@", "redis://127.0.0.1:6379/abc"])("state.redis: %s is a config error with its line and a fix, for check and serve alike", async (url) => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-fleet-bad-"));
    writeFileSync(join(dir, "bitrouter.yaml"), `providers: {}\nstate:\n  redis: "${url}"\n`);
    for (const args of [["config", "check", "-c", join(dir, "bitrouter.yaml")], ["serve", "-c", join(dir, "bitrouter.yaml"), "--listen", "127.0.0.1:0"]]) {
      const run = await runBitRouter(args, { cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("bitrouter.yaml:3:");
      expect(run.stderr).toContain("expected a Redis URL such as redis://127.0.0.1:6379");
      expect(run.stderr).not.toContain("hunter2");
    }
  });
});
