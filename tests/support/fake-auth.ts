// A fake OAuth authorization server for the subscription plans, on a real socket: it checks the
// PKCE proof of every code exchange, counts refreshes, and can refuse on demand. Access tokens for
// the Codex plan are JWTs carrying the ChatGPT account claims, as the real ones do.
import { createHash } from "node:crypto";
import type { Server } from "bun";
import { SignJWT } from "jose";

export interface FakeAuth {
  url: string;
  /** `code` → the PKCE challenge it was issued for (what the browser step would have recorded). */
  grant(code: string, challenge: string): void;
  exchanges: Record<string, string>[];
  refreshes: Record<string, string>[];
  /** Refuse refresh grants (invalid_grant). */
  failRefresh: boolean;
  /** Each refresh token works once, as providers that rotate them do: a second use is invalid_grant. */
  rotate: boolean;
  /** How long new access tokens live, seconds. */
  expiresIn: number;
  /** The access token most recently issued. */
  lastAccessToken(): string;
  stop(): void;
}

const KEY = new TextEncoder().encode("fake-auth-signing-key-at-least-32-bytes!!");

export async function startFakeAuth(kind: "anthropic" | "openai-codex"): Promise<FakeAuth> {
  const codes = new Map<string, string>();
  let issued = 0;
  const used = new Set<string>();
  let last = "";
  const auth: FakeAuth = {
    url: "",
    grant(code, challenge) {
      codes.set(code, challenge);
    },
    exchanges: [],
    refreshes: [],
    failRefresh: false,
    rotate: false,
    expiresIn: 3600,
    lastAccessToken: () => last,
    stop() {
      server.stop(true);
    },
  };

  const issue = async () => {
    issued++;
    if (kind === "anthropic") {
      last = `sk-ant-oat01-fake-${issued}`;
      return { token_type: "Bearer", access_token: last, refresh_token: `sk-ant-ort01-fake-${issued}`, expires_in: auth.expiresIn, account: { email_address: "dev@example.com" }, organization: { name: "max" } };
    }
    const exp = Math.floor(Date.now() / 1000) + auth.expiresIn;
    last = await new SignJWT({ "https://api.openai.com/auth": { chatgpt_account_id: "acct-123", chatgpt_plan_type: "pro" } }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).setSubject(`user-${issued}`).sign(KEY);
    const idToken = await new SignJWT({ email: "dev@example.com", "https://api.openai.com/auth": { chatgpt_account_id: "acct-123", chatgpt_plan_type: "pro" } }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).sign(KEY);
    return { access_token: last, refresh_token: `rt-fake-${issued}`, id_token: idToken, expires_in: auth.expiresIn };
  };

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method !== "POST" || url.pathname !== "/token") return new Response("not found", { status: 404 });
      const type = request.headers.get("content-type") ?? "";
      const text = await request.text();
      const fields: Record<string, string> = type.includes("json") ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text));
      if (fields.grant_type === "authorization_code") {
        auth.exchanges.push(fields);
        const challenge = codes.get(fields.code ?? "");
        const proof = createHash("sha256").update(fields.code_verifier ?? "").digest("base64url");
        if (!challenge || proof !== challenge) return Response.json({ error: "invalid_grant", error_description: "code or PKCE verifier does not match" }, { status: 400 });
        codes.delete(fields.code ?? "");
        return Response.json(await issue());
      }
      if (fields.grant_type === "refresh_token") {
        auth.refreshes.push(fields);
        if (auth.rotate) {
          if (used.has(fields.refresh_token ?? "")) return Response.json({ error: "invalid_grant", error_description: "refresh token already used" }, { status: 400 });
          used.add(fields.refresh_token ?? "");
        }
        if (auth.failRefresh) return Response.json({ error: "invalid_grant", error_description: "refresh token revoked" }, { status: 400 });
        return Response.json(await issue());
      }
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    },
  });
  auth.url = `http://127.0.0.1:${server.port}`;
  return auth;
}
