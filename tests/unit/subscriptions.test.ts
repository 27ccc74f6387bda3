import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BitRouterError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { createCredentialStore, CredentialFileError, type FileOps, nodeFileOps } from "../../src/subscriptions/credentials.ts";
import { createSubscriptionAuth } from "../../src/subscriptions/tokens.ts";
import { startFakeAuth } from "../support/fake-auth.ts";
import { parsePastedAnswer } from "../../src/subscriptions/oauth.ts";
import { planFor } from "../../src/subscriptions/plans.ts";
import { CLAUDE_IDENTITY, shapeClaudePlan, shapeCodexPlan } from "../../src/subscriptions/shaping.ts";

describe("the credential store", () => {
  test("0600, keyed by provider and label, logout removes every label", () => {
    const path = join(mkdtempSync(join(tmpdir(), "creds-")), "home", "credentials.json");
    const store = createCredentialStore(path);
    expect(store.load()).toEqual({});
    store.put("anthropic", { type: "oauth", access_token: "a", refresh_token: "r", expires_at: 1 });
    store.put("anthropic", { type: "oauth", access_token: "b", refresh_token: "r", expires_at: 1 }, "work");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(store.get("anthropic")?.access_token).toBe("a");
    expect(store.get("anthropic", "work")?.access_token).toBe("b");
    expect(store.remove("anthropic")).toBe(true);
    expect(store.load()).toEqual({});
    expect(store.remove("anthropic")).toBe(false);
  });

  test("a corrupt file is an error that says what to do", () => {
    const path = join(mkdtempSync(join(tmpdir(), "creds-")), "credentials.json");
    writeFileSync(path, "{half");
    expect(() => createCredentialStore(path).load()).toThrow(CredentialFileError);
    expect(() => createCredentialStore(path).load()).toThrow("log in again");
  });

  for (const moment of ["during-write", "before-rename"] as const) {
    test(`a crash ${moment.replace("-", " ")} leaves the previous file intact`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "creds-crash-"));
      const path = join(dir, "credentials.json");
      const previous = `${JSON.stringify({ anthropic: { default: { type: "oauth", access_token: "old-token", refresh_token: "old-refresh", expires_at: 1 } } }, null, 2)}\n`;
      writeFileSync(path, previous, { mode: 0o600 });
      const child = Bun.spawn([process.execPath, join(import.meta.dir, "../support/crash-write.ts"), path, moment], { stdout: "ignore", stderr: "ignore" });
      await child.exited;
      expect(child.signalCode).toBe("SIGKILL");
      expect(readFileSync(path, "utf8")).toBe(previous);
      expect(createCredentialStore(path).get("anthropic")?.access_token).toBe("old-token");
      // The half-written temp file is a stray, never the store.
      expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toHaveLength(1);
    });
  }
});

describe("a pasted login answer", () => {
  test("an address, a query, code#state or a bare code", () => {
    expect(parsePastedAnswer("http://localhost:1455/auth/callback?code=abc&state=xyz")).toEqual({ code: "abc", state: "xyz" });
    expect(parsePastedAnswer("code=abc&state=xyz")).toEqual({ code: "abc", state: "xyz" });
    expect(parsePastedAnswer("  abc#xyz \n")).toEqual({ code: "abc", state: "xyz" });
    expect(parsePastedAnswer("abc")).toEqual({ code: "abc" });
    expect(parsePastedAnswer("http://localhost/cb?error=access_denied&error_description=no")).toEqual({ error: "access_denied", description: "no" });
    expect(parsePastedAnswer("")).toBeNull();
    expect(parsePastedAnswer("https://example.com/no-code")).toBeNull();
  });
});

describe("plans", () => {
  test("every URL and the callback port can be overridden from the environment", () => {
    const plan = planFor("openai-codex", { BITROUTER_OPENAI_CODEX_TOKEN_URL: "http://proxy/token", BITROUTER_OPENAI_CODEX_API_BASE: "http://proxy/codex/", BITROUTER_OPENAI_CODEX_CALLBACK_PORT: "5555" });
    expect(plan).toMatchObject({ tokenUrl: "http://proxy/token", apiBase: "http://proxy/codex", callbackPort: 5555, authorizeUrl: "https://auth.openai.com/oauth/authorize" });
    expect(planFor("anthropic", {}).callbackPort).toBe(0);
  });
});

describe("request shaping", () => {
  test("Claude plan: Bearer, not x-api-key; plan betas first; the identity block once", () => {
    const shaped = shapeClaudePlan({ body: { system: "Be terse.", messages: [] }, headers: { "x-api-key": "k", "anthropic-beta": "oauth-2025-04-20, files-api" } }, "tok");
    expect(shaped.headers).toMatchObject({ authorization: "Bearer tok", "anthropic-beta": "claude-code-20250219,oauth-2025-04-20,files-api", "x-app": "cli" });
    expect(shaped.headers["x-api-key"]).toBeUndefined();
    expect(shaped.body.system).toEqual([
      { type: "text", text: CLAUDE_IDENTITY },
      { type: "text", text: "Be terse." },
    ]);
    const claudeCode = [{ type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude." }];
    expect(shapeClaudePlan({ body: { system: claudeCode }, headers: {} }, "t").body.system).toEqual(claudeCode);
  });

  test("Codex plan: stream only, nothing stored, system turns hoisted into instructions, cache_control gone", () => {
    const shaped = shapeCodexPlan(
      {
        body: {
          model: "gpt-5",
          instructions: "Base.",
          input: [
            { type: "message", role: "developer", content: [{ type: "input_text", text: "Be careful." }] },
            { role: "user", content: [{ type: "input_text", text: "hi", cache_control: { type: "ephemeral" } }] },
          ],
          max_output_tokens: 5,
          metadata: { a: 1 },
          include: ["x"],
          reasoning: { effort: "high" },
        },
        headers: { authorization: "Bearer client" },
      },
      "tok",
      "acct-1",
    );
    expect(shaped.headers).toMatchObject({ authorization: "Bearer tok", "chatgpt-account-id": "acct-1", originator: "bitrouter" });
    expect(shaped.body).toEqual({
      model: "gpt-5",
      instructions: "Base.\n\nBe careful.",
      input: [{ role: "user", content: [{ type: "input_text", text: "hi" }] }],
      include: ["x", "reasoning.encrypted_content"],
      reasoning: { effort: "high", context: "all_turns" },
      stream: true,
      store: false,
      parallel_tool_calls: false,
    });
    expect(shapeCodexPlan({ body: { input: "hi" }, headers: {} }, "t").body.instructions).toBe("You are a helpful assistant.");
  });
});

describe("access tokens when the credential file misbehaves", () => {
  const expired = { type: "oauth", access_token: "sk-ant-oat01-old", refresh_token: "sk-ant-ort01-old", expires_at: 1 };

  test("a damaged file makes the plan's source unusable with a login_required error (the chain moves on), not a crash", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "creds-")), "credentials.json");
    writeFileSync(path, "{ not json");
    const auth = createSubscriptionAuth({ store: createCredentialStore(path), env: {}, fetch });
    const error = await auth.accessToken("anthropic").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BitRouterError);
    expect(error).toMatchObject({ status: 401, code: "login_required" });
    expect((error as Error).message).toContain(`the stored login cannot be read (${path}: is not valid JSON`);
  });

  test("a refreshed token that cannot be saved is still used; the failure is logged", async () => {
    const fakeAuth = await startFakeAuth("anthropic");
    try {
      const path = join(mkdtempSync(join(tmpdir(), "creds-")), "credentials.json");
      writeFileSync(path, JSON.stringify({ anthropic: { default: expired } }));
      const diskFull: FileOps = {
        ...nodeFileOps,
        writeFile() {
          throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
        },
      };
      const lines: string[] = [];
      const log = createLogger({ level: "info", write: (line) => lines.push(line) });
      const auth = createSubscriptionAuth({ store: createCredentialStore(path, diskFull), env: { BITROUTER_ANTHROPIC_TOKEN_URL: `${fakeAuth.url}/token` }, fetch, log });
      const { token } = await auth.accessToken("anthropic");
      expect(token).toBe(fakeAuth.lastAccessToken());
      expect(fakeAuth.refreshes).toHaveLength(1);
      expect(lines.join("")).toContain("refreshed token could not be saved");
      expect(JSON.parse(readFileSync(path, "utf8")).anthropic.default.access_token).toBe("sk-ant-oat01-old");
    } finally {
      fakeAuth.stop();
    }
  });
});
