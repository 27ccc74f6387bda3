// OAuth for the subscription plans: PKCE (S256) authorize URL, the loopback callback listener,
// parsing a pasted answer, and the token requests (exchange and refresh) with a timeout.
// The token POST is ours, not oslo's: we control the user agent, the timeout, the error text and
// the fetch (tests pass their own fake authorization server on a real socket).
import { decodeJwt } from "jose";
import { generateCodeVerifier, generateState, OAuth2Client } from "oslo/oauth2";
import { VERSION } from "../version.ts";
import type { OAuthCredential } from "./credentials.ts";
import type { Plan } from "./plans.ts";

export class OAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OAuthError";
  }
}

export interface PkceStart {
  verifier: string;
  state: string;
  url: URL;
}

export async function authorizeUrl(plan: Plan, redirectUri: string): Promise<PkceStart> {
  const verifier = generateCodeVerifier();
  const state = generateState();
  const client = new OAuth2Client(plan.clientId, plan.authorizeUrl, plan.tokenUrl, { redirectURI: redirectUri });
  const url = await client.createAuthorizationURL({ state, codeVerifier: verifier, codeChallengeMethod: "S256", scopes: plan.scopes });
  for (const [key, value] of Object.entries(plan.extraAuthorizeParams)) url.searchParams.set(key, value);
  return { verifier, state, url };
}

export type CallbackAnswer = { code: string; state?: string } | { error: string; description?: string };

export interface CallbackListener {
  redirectUri: string;
  answer: Promise<CallbackAnswer>;
  stop(): void;
}

/** Listens on 127.0.0.1 (and ::1 when it can) for the one redirect of this login. */
export function listenForCallback(plan: Plan): CallbackListener {
  let resolveAnswer!: (answer: CallbackAnswer) => void;
  const answer = new Promise<CallbackAnswer>((resolve) => {
    resolveAnswer = resolve;
  });
  const handle = (request: Request): Response => {
    const url = new URL(request.url);
    if (url.pathname !== plan.callbackPath) return new Response("not found", { status: 404 });
    const error = url.searchParams.get("error");
    const code = url.searchParams.get("code");
    if (error) {
      resolveAnswer({ error, description: url.searchParams.get("error_description") ?? undefined });
      return page("Login cancelled", "You can close this tab and go back to the terminal.");
    }
    if (!code) return page("Missing code", "The redirect carried no code; go back to the terminal.", 400);
    resolveAnswer({ code, state: url.searchParams.get("state") ?? undefined });
    return page("BitRouter is logged in", "You can close this tab and go back to the terminal.");
  };
  let servers: ReturnType<typeof Bun.serve>[];
  try {
    servers = [Bun.serve({ hostname: "127.0.0.1", port: plan.callbackPort, fetch: handle, development: false })];
  } catch (err) {
    const busy = /EADDRINUSE|in use/i.test(String((err as Error).message ?? err)) || (err as { code?: string }).code === "EADDRINUSE";
    if (busy) {
      throw new OAuthError(
        `port ${plan.callbackPort} is in use, and ${plan.label} only accepts its login answer there. Close the program using it (another \`codex login\`?) and try again, or adopt an existing login with --import.`,
      );
    }
    throw err;
  }
  const port = servers[0]!.port ?? plan.callbackPort;
  try {
    servers.push(Bun.serve({ hostname: "::1", port, fetch: handle, development: false }));
  } catch {
    // no IPv6 loopback here: 127.0.0.1 serves alone
  }
  return {
    redirectUri: `http://localhost:${port}${plan.callbackPath}`,
    answer,
    stop() {
      // Graceful: the browser still gets its page.
      for (const server of servers) void server.stop();
    },
  };
}

function page(title: string, text: string, status = 200): Response {
  return new Response(`<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif"><h1>${title}</h1><p>${text}</p>`, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

/** A pasted answer: the URL the browser ended on, `code=…&state=…`, `code#state`, or a bare code. */
export function parsePastedAnswer(input: string): CallbackAnswer | null {
  const text = input.trim();
  if (text === "") return null;
  let params: URLSearchParams | undefined;
  if (/^https?:\/\//i.test(text)) {
    try {
      params = new URL(text).searchParams;
    } catch {
      return null;
    }
  } else if (text.includes("=")) {
    params = new URLSearchParams(text.replace(/^\?/, ""));
  }
  if (params) {
    const error = params.get("error");
    if (error) return { error, description: params.get("error_description") ?? undefined };
    const code = params.get("code");
    return code ? { code, state: params.get("state") ?? undefined } : null;
  }
  const hash = text.indexOf("#");
  return hash > 0 ? { code: text.slice(0, hash), state: text.slice(hash + 1) } : { code: text };
}

export interface TokenRequestDeps {
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  timeoutMs?: number;
  now?: () => number;
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  id_token?: string;
  account?: { email_address?: string };
  organization?: { name?: string };
  error?: string;
  error_description?: string;
}

/** POST to the plan's token endpoint (JSON or form, as the plan wants), bounded by a timeout. */
async function tokenRequest(plan: Plan, fields: Record<string, string>, deps: TokenRequestDeps): Promise<TokenResponse> {
  const controller = new AbortController();
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response: Response;
  let text: string;
  try {
    // The timeout covers the body too: a token endpoint that sends headers and stalls must not hang a request.
    response = await deps.fetch(plan.tokenUrl, {
      method: "POST",
      headers: {
        "content-type": plan.tokenFormat === "json" ? "application/json" : "application/x-www-form-urlencoded",
        accept: "application/json",
        "user-agent": `bitrouter/${VERSION}`,
      },
      body: plan.tokenFormat === "json" ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
      signal: controller.signal,
    });
    text = await response.text();
  } catch (err) {
    throw new OAuthError(controller.signal.aborted ? `the token endpoint did not answer within ${timeoutMs / 1000}s` : `cannot reach the token endpoint: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  let body: TokenResponse;
  try {
    body = JSON.parse(text) as TokenResponse;
  } catch {
    throw new OAuthError(`the token endpoint answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok || body.error || !body.access_token) {
    const reason = body.error ? `${body.error}${body.error_description ? `: ${body.error_description}` : ""}` : `HTTP ${response.status}`;
    throw new OAuthError(`the token endpoint refused: ${reason}`);
  }
  return body;
}

export async function exchangeCode(plan: Plan, params: { code: string; state: string; verifier: string; redirectUri: string }, deps: TokenRequestDeps): Promise<OAuthCredential> {
  const body = await tokenRequest(
    plan,
    {
      grant_type: "authorization_code",
      client_id: plan.clientId,
      code: params.code,
      code_verifier: params.verifier,
      redirect_uri: params.redirectUri,
      ...(plan.tokenFormat === "json" ? { state: params.state } : {}),
    },
    deps,
  );
  return credentialFrom(body, undefined, deps.now ?? Date.now, "login");
}

export async function refreshCredential(plan: Plan, credential: OAuthCredential, deps: TokenRequestDeps): Promise<OAuthCredential> {
  const body = await tokenRequest(plan, { grant_type: "refresh_token", client_id: plan.clientId, refresh_token: credential.refresh_token }, deps);
  return credentialFrom(body, credential, deps.now ?? Date.now, credential.obtained_via);
}

function credentialFrom(body: TokenResponse, previous: OAuthCredential | undefined, now: () => number, via: string | undefined): OAuthCredential {
  const accessToken = body.access_token!;
  const expiresAt = body.expires_in ? Math.floor(now() / 1000) + body.expires_in : jwtExpiry(accessToken);
  const account = { ...(previous?.account ?? {}), ...accountFrom(body) };
  return {
    type: "oauth",
    access_token: accessToken,
    // A refresh that returns no new refresh token keeps the old one.
    refresh_token: body.refresh_token ?? previous?.refresh_token ?? "",
    expires_at: expiresAt,
    ...(Object.keys(account).length > 0 ? { account } : {}),
    ...(via ? { obtained_via: via } : {}),
  };
}

function accountFrom(body: TokenResponse): OAuthCredential["account"] {
  const account: NonNullable<OAuthCredential["account"]> = {};
  if (body.account?.email_address) account.email = body.account.email_address;
  if (body.organization?.name) account.plan = body.organization.name;
  const claims = body.id_token ? codexClaims(body.id_token) : undefined;
  if (claims?.email) account.email = claims.email;
  if (claims?.plan) account.plan = claims.plan;
  const fromAccess = body.access_token ? codexClaims(body.access_token) : undefined;
  const accountId = claims?.accountId ?? fromAccess?.accountId;
  if (accountId) account.account_id = accountId;
  return account;
}

/** Claims of a ChatGPT token: read, never verified (they only shape requests and `status`). */
export function codexClaims(jwt: string): { email?: string; plan?: string; accountId?: string; exp?: number } | undefined {
  try {
    const claims = decodeJwt(jwt) as Record<string, unknown>;
    const auth = (claims["https://api.openai.com/auth"] ?? {}) as Record<string, unknown>;
    const profile = (claims["https://api.openai.com/profile"] ?? {}) as Record<string, unknown>;
    return {
      email: typeof claims.email === "string" ? claims.email : typeof profile.email === "string" ? profile.email : undefined,
      plan: typeof auth.chatgpt_plan_type === "string" ? auth.chatgpt_plan_type : undefined,
      accountId: typeof auth.chatgpt_account_id === "string" ? auth.chatgpt_account_id : undefined,
      exp: typeof claims.exp === "number" ? claims.exp : undefined,
    };
  } catch {
    return undefined;
  }
}

export function jwtExpiry(token: string): number {
  return codexClaims(token)?.exp ?? 0;
}
