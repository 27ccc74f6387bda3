// Subscriptions end to end, against a fake authorization server and fake plan endpoints on real
// sockets: login through the loopback callback and by paste, the stored credential (0600),
// the headers and body each plan requires, refresh before expiry (once, under 20 concurrent
// requests), one refresh and retry after a 401, failover when a login cannot be refreshed,
// logout and status.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { bitrouterCommand, cleanEnv, runBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeAuth, startFakeAuth } from "../support/fake-auth.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

let claudeAuth: FakeAuth;
let codexAuth: FakeAuth;
let claudeApi: FakeUpstream;
let codexApi: FakeUpstream;
let localChat: FakeUpstream;

beforeAll(async () => {
  claudeAuth = await startFakeAuth("anthropic");
  codexAuth = await startFakeAuth("openai-codex");
  claudeApi = await startFakeUpstream("claude-plan");
  codexApi = await startFakeUpstream("codex-plan");
  localChat = await startFakeUpstream("local");
});
afterAll(() => {
  for (const s of [claudeAuth, codexAuth, claudeApi, codexApi, localChat]) s.stop();
});

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** The environment of a machine whose plans live on the fakes. */
function planEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    BITROUTER_ANTHROPIC_AUTHORIZE_URL: "https://claude.example/oauth/authorize",
    BITROUTER_ANTHROPIC_TOKEN_URL: `${claudeAuth.url}/token`,
    BITROUTER_ANTHROPIC_API_BASE: claudeApi.baseUrl,
    BITROUTER_OPENAI_CODEX_AUTHORIZE_URL: "https://auth.example/oauth/authorize",
    BITROUTER_OPENAI_CODEX_TOKEN_URL: `${codexAuth.url}/token`,
    BITROUTER_OPENAI_CODEX_API_BASE: codexApi.baseUrl,
    ...extra,
  };
}

interface LoginRun {
  dir: string;
  authorizeUrl: Promise<URL>;
  paste(text: string): void;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

function startLogin(args: string[], extraEnv: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), "bitrouter-login-"))): LoginRun {
  const proc = Bun.spawn([...bitrouterCommand(), "login", ...args, "--no-browser"], { cwd: dir, env: cleanEnv(planEnv(extraEnv), dir), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let stderr = "";
  let resolveUrl!: (url: URL) => void;
  const authorizeUrl = new Promise<URL>((resolve) => {
    resolveUrl = resolve;
  });
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const bytes of proc.stderr) {
      stderr += decoder.decode(bytes, { stream: true });
      const match = /^(https:\/\/\S+)$/m.exec(stderr);
      if (match) resolveUrl(new URL(match[1]!));
    }
  })();
  return {
    dir,
    authorizeUrl,
    paste(text) {
      proc.stdin.write(`${text}\n`);
      proc.stdin.flush();
    },
    done: (async () => {
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      await stderrDone;
      return { code, stdout, stderr };
    })(),
  };
}

function storedCredentials(dir: string): Record<string, Record<string, { access_token: string; refresh_token: string; expires_at: number; account?: Record<string, string> }>> {
  return JSON.parse(readFileSync(join(dir, ".bitrouter", "credentials.json"), "utf8"));
}

describe("login", () => {
  test("anthropic: PKCE through the loopback callback; the credential is stored 0600", async () => {
    const login = startLogin(["anthropic"]);
    const url = await login.authorizeUrl;
    expect(url.searchParams.get("client_id")).toBe("9d1c250a-e61b-44d9-88ed-5944d1962f5e");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code")).toBe("true");
    const redirect = new URL(url.searchParams.get("redirect_uri")!);
    expect(redirect.hostname).toBe("localhost");
    expect(redirect.pathname).toBe("/callback");
    // The browser step: consent, then the redirect to the loopback listener.
    claudeAuth.grant("code-loopback", url.searchParams.get("code_challenge")!);
    const page = await fetch(`http://127.0.0.1:${redirect.port}/callback?code=code-loopback&state=${url.searchParams.get("state")}`);
    expect(await page.text()).toContain("logged in");
    const result = await login.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("logged in as dev@example.com (max)");
    const path = join(login.dir, ".bitrouter", "credentials.json");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const stored = storedCredentials(login.dir).anthropic!.default!;
    expect(stored).toMatchObject({ access_token: "sk-ant-oat01-fake-1", refresh_token: "sk-ant-ort01-fake-1" });
    expect(stored.expires_at).toBeGreaterThan(Date.now() / 1000 + 3000);
    // The exchange carried the redirect URI and the PKCE verifier.
    expect(claudeAuth.exchanges.at(-1)).toMatchObject({ grant_type: "authorization_code", code: "code-loopback", redirect_uri: redirect.href, client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e" });
    expect(result.stdout + result.stderr).not.toContain("sk-ant-oat01-fake-1");
  });

  test("openai-codex on a headless machine: the pasted code#state is accepted", async () => {
    const port = freePort();
    const login = startLogin(["openai-codex"], { BITROUTER_OPENAI_CODEX_CALLBACK_PORT: String(port) });
    const url = await login.authorizeUrl;
    expect(url.searchParams.get("redirect_uri")).toBe(`http://localhost:${port}/auth/callback`);
    expect(url.searchParams.get("codex_cli_simplified_flow")).toBe("true");
    codexAuth.grant("code-pasted", url.searchParams.get("code_challenge")!);
    login.paste(`code-pasted#${url.searchParams.get("state")}`);
    const result = await login.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("logged in as dev@example.com (pro)");
    expect(storedCredentials(login.dir)["openai-codex"]!.default!.account).toMatchObject({ email: "dev@example.com", plan: "pro", account_id: "acct-123" });
  });

  test("a pasted redirect address works too", async () => {
    const login = startLogin(["anthropic"]);
    const url = await login.authorizeUrl;
    claudeAuth.grant("code-url", url.searchParams.get("code_challenge")!);
    login.paste(`${url.searchParams.get("redirect_uri")}?code=code-url&state=${url.searchParams.get("state")}`);
    expect((await login.done).code).toBe(0);
  });

  test("a refused consent, a state mismatch, a timeout and a busy port each say what happened", async () => {
    const denied = startLogin(["anthropic"]);
    const deniedUrl = new URL((await denied.authorizeUrl).searchParams.get("redirect_uri")!);
    await fetch(`http://127.0.0.1:${deniedUrl.port}/callback?error=access_denied&error_description=The+user+said+no`);
    expect(await denied.done).toMatchObject({ code: 1, stderr: expect.stringContaining("the login was not granted: access_denied (The user said no)") });

    const mismatch = startLogin(["anthropic"]);
    const mismatchUrl = new URL((await mismatch.authorizeUrl).searchParams.get("redirect_uri")!);
    await fetch(`http://127.0.0.1:${mismatchUrl.port}/callback?code=x&state=not-ours`);
    expect(await mismatch.done).toMatchObject({ code: 1, stderr: expect.stringContaining("state mismatch") });

    const slow = startLogin(["anthropic", "--timeout", "1"]);
    expect(await slow.done).toMatchObject({ code: 1, stderr: expect.stringContaining("no answer within 1s") });

    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const blocked = startLogin(["openai-codex"], { BITROUTER_OPENAI_CODEX_CALLBACK_PORT: String(busy.port) });
    expect(await blocked.done).toMatchObject({ code: 1, stderr: expect.stringContaining(`port ${busy.port} is in use`) });
    busy.stop(true);
  });

  test("--import adopts an existing Claude Code or Codex CLI login", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-import-"));
    mkdirSync(join(dir, ".claude"), { recursive: true });
    writeFileSync(join(dir, ".claude", ".credentials.json"), JSON.stringify({ claudeAiOauth: { accessToken: "sk-ant-oat01-imported", refreshToken: "sk-ant-ort01-imported", expiresAt: Date.now() + 3_600_000, subscriptionType: "max" } }));
    const claude = await runBitRouter(["login", "anthropic", "--import"], { cwd: dir });
    expect(claude.code).toBe(0);
    expect(claude.stdout).toContain("Imported the login from");
    expect(storedCredentials(dir).anthropic!.default).toMatchObject({ access_token: "sk-ant-oat01-imported", account: { plan: "max" } });

    mkdirSync(join(dir, "codex-home"), { recursive: true });
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp: 4102444800, "https://api.openai.com/auth": { chatgpt_account_id: "acct-9" } })).toString("base64url")}.sig`;
    writeFileSync(join(dir, "codex-home", "auth.json"), JSON.stringify({ tokens: { access_token: jwt, refresh_token: "rt-imported" } }));
    const codex = await runBitRouter(["login", "openai-codex", "--import"], { cwd: dir, env: { CODEX_HOME: join(dir, "codex-home") } });
    expect(codex.code).toBe(0);
    expect(storedCredentials(dir)["openai-codex"]!.default).toMatchObject({ refresh_token: "rt-imported", expires_at: 4102444800, account: { account_id: "acct-9" } });

    const missing = await runBitRouter(["login", "anthropic", "--import"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no Claude Code login found");
  });
});

/** A machine already logged in to both plans, with tokens that expire at `expiresAt`. */
function loggedIn(dir: string, expiresAt: number, tokens: { claude?: string; codex?: string } = {}): void {
  mkdirSync(join(dir, ".bitrouter"), { recursive: true });
  const credential = (access: string, refresh: string, account: object) => ({ type: "oauth", access_token: access, refresh_token: refresh, expires_at: expiresAt, account });
  writeFileSync(
    join(dir, ".bitrouter", "credentials.json"),
    JSON.stringify({
      anthropic: { default: credential(tokens.claude ?? "sk-ant-oat01-stored", "sk-ant-ort01-stored", { email: "dev@example.com", plan: "max" }) },
      "openai-codex": { default: credential(tokens.codex ?? "codex-stored-token", "rt-stored", { email: "dev@example.com", plan: "pro", account_id: "acct-123" }) },
    }),
    { mode: 0o600 },
  );
}

const CONFIG = (local: FakeUpstream) => `
providers:
  local:
    api_base: ${local.baseUrl}
    models: [{ id: claude-sonnet-4-5 }]
models:
  plan-then-local:
    endpoints:
      - { provider: anthropic, service_id: claude-sonnet-4-5 }
      - { provider: local, service_id: claude-sonnet-4-5 }
`;

describe("requests on a plan", () => {
  test("anthropic:claude-sonnet-4-5 carries exactly what the Claude plan requires", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-plan-"));
    loggedIn(dir, Math.floor(Date.now() / 1000) + 3600);
    claudeApi.reset();
    const running = await startBitRouter({ dir, config: CONFIG(localChat), env: planEnv() });
    expect(running.stdout()).toMatch(/anthropic\s+active\s+subscription, .*logged in as dev@example.com \(max\)/);
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: running.url, maxRetries: 0 });
    const message = await anthropic.messages
      .stream({ model: "anthropic:claude-sonnet-4-5", max_tokens: 50, system: "Be terse.", messages: [{ role: "user", content: "hi" }] }, { headers: { "anthropic-beta": "interleaved-thinking-2025-05-14" } })
      .finalMessage();
    expect(message.content[0]).toMatchObject({ type: "text", text: "Hello from claude-plan." });
    const sent = claudeApi.requests("/v1/messages")[0]!;
    expect(sent.headers.authorization).toBe("Bearer sk-ant-oat01-stored");
    expect(sent.headers["x-api-key"]).toBeUndefined();
    expect(sent.headers["anthropic-beta"]).toBe("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14");
    expect(sent.headers["anthropic-version"]).toBeTruthy();
    expect(sent.headers["user-agent"]).toBe("claude-cli/2.1.75");
    expect(sent.headers["x-app"]).toBe("cli");
    expect(sent.json?.system).toEqual([
      { type: "text", text: "You are a Claude agent, built on Anthropic's Claude Agent SDK." },
      { type: "text", text: "Be terse." },
    ]);
    expect(sent.json?.model).toBe("claude-sonnet-4-5");

    // A bare name runs on the plan before the self-hosted? No: self-hosted first, then the plan.
    const route = await runBitRouter(["route", "claude-sonnet-4-5", "--json"], { cwd: dir, env: planEnv() });
    expect(JSON.parse(route.stdout).chain.map((c: { provider: string }) => c.provider)).toEqual(["local", "anthropic"]);
    expect(await running.stop()).toBe(0);
  });

  test("openai-codex:gpt-5 from a Chat client that wants JSON: a stream upstream, folded; the plan's headers and body rules", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-plan-"));
    loggedIn(dir, Math.floor(Date.now() / 1000) + 3600);
    codexApi.reset();
    const running = await startBitRouter({ dir, config: CONFIG(localChat), env: planEnv() });
    const openai = new OpenAI({ apiKey: "client-key", baseURL: `${running.url}/v1`, maxRetries: 0 });
    const completion = await openai.chat.completions.create({
      model: "openai-codex:gpt-5",
      max_tokens: 300,
      messages: [
        { role: "system", content: "You are a coding agent." },
        { role: "user", content: "hi" },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe("Hello from codex-plan.");
    expect(completion.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
    const sent = codexApi.requests("/v1/responses")[0]!;
    expect(sent.headers.authorization).toBe("Bearer codex-stored-token");
    expect(sent.headers["chatgpt-account-id"]).toBe("acct-123");
    expect(sent.headers.originator).toBe("bitrouter");
    expect(sent.json).toMatchObject({ model: "gpt-5", stream: true, store: false, parallel_tool_calls: false, instructions: "You are a coding agent.", include: ["reasoning.encrypted_content"] });
    expect(sent.json).not.toHaveProperty("max_output_tokens");
    expect((sent.json?.input as { role: string }[]).map((i) => i.role)).toEqual(["user"]);
    expect(await running.stop()).toBe(0);
  });

  test("an expired token is refreshed exactly once under 20 concurrent requests, and written back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-plan-"));
    loggedIn(dir, Math.floor(Date.now() / 1000) - 10);
    claudeApi.reset();
    claudeAuth.refreshes.length = 0;
    const running = await startBitRouter({ dir, config: CONFIG(localChat), env: planEnv() });
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: running.url, maxRetries: 0 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => anthropic.messages.create({ model: "anthropic:claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })));
    expect(answers.every((a) => a.content[0]?.type === "text")).toBe(true);
    expect(claudeAuth.refreshes).toHaveLength(1);
    expect(claudeAuth.refreshes[0]).toMatchObject({ grant_type: "refresh_token", refresh_token: "sk-ant-ort01-stored" });
    const fresh = claudeAuth.lastAccessToken();
    expect(new Set(claudeApi.requests("/v1/messages").map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${fresh}`]));
    expect(storedCredentials(dir).anthropic!.default).toMatchObject({ access_token: fresh });
    expect(statSync(join(dir, ".bitrouter", "credentials.json")).mode & 0o777).toBe(0o600);
    expect(await running.stop()).toBe(0);
  });

  test("a 401 from the plan: one refresh, one retry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-plan-"));
    loggedIn(dir, Math.floor(Date.now() / 1000) + 3600, { claude: "sk-ant-oat01-revoked" });
    claudeApi.reset();
    claudeApi.rejectToken = "sk-ant-oat01-revoked";
    claudeAuth.refreshes.length = 0;
    const running = await startBitRouter({ dir, config: CONFIG(localChat), env: planEnv() });
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: running.url, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "anthropic:claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    expect(message.content[0]).toMatchObject({ text: "Hello from claude-plan." });
    expect(claudeAuth.refreshes).toHaveLength(1);
    expect(claudeApi.requests("/v1/messages").map((r) => r.headers.authorization)).toEqual(["Bearer sk-ant-oat01-revoked", `Bearer ${claudeAuth.lastAccessToken()}`]);
    expect(await running.stop()).toBe(0);
  });

  test("a login that cannot be refreshed says to log in again, and the chain moves on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-plan-"));
    loggedIn(dir, Math.floor(Date.now() / 1000) - 10);
    claudeAuth.failRefresh = true;
    localChat.reset();
    const running = await startBitRouter({ dir, config: CONFIG(localChat), env: planEnv() });
    const openai = new OpenAI({ apiKey: "client-key", baseURL: `${running.url}/v1`, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: "plan-then-local", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]?.message.content).toBe("Hello from local.");
    const pinned = await openai.chat.completions.create({ model: "anthropic:claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(pinned).toBeInstanceOf(OpenAI.APIError);
    expect(String(pinned.message)).toContain("run `bitrouter login anthropic`");
    claudeAuth.failRefresh = false;
    expect(await running.stop()).toBe(0);
  });
});

describe("status and logout", () => {
  test("status shows each state and never a token; logout removes the credential", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitrouter-status-"));
    loggedIn(dir, Math.floor(Date.now() / 1000) - 10);
    const status = await runBitRouter(["status", "--json"], { cwd: dir, env: planEnv() });
    const subscriptions = JSON.parse(status.stdout).subscriptions as { provider: string; logged_in: boolean; expired?: boolean; account?: string }[];
    expect(subscriptions).toMatchObject([
      { provider: "anthropic", logged_in: true, expired: true, account: "dev@example.com", plan: "max" },
      { provider: "openai-codex", logged_in: true, expired: true, account: "dev@example.com", plan: "pro" },
    ]);
    expect(status.stdout).not.toContain("sk-ant-oat01-stored");

    const logout = await runBitRouter(["logout", "anthropic"], { cwd: dir });
    expect(logout.code).toBe(0);
    expect(storedCredentials(dir).anthropic).toBeUndefined();
    const after = await runBitRouter(["status"], { cwd: dir, env: planEnv() });
    expect(after.stdout).toMatch(/anthropic\s+not logged in \(run `bitrouter login anthropic`\)/);
    expect(after.stdout).toMatch(/openai-codex\s+logged in as dev@example.com \(pro\), token expired at/);
    expect((await runBitRouter(["logout", "anthropic"], { cwd: dir })).code).toBe(1);
  });
});
