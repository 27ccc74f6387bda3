// `bitrouter login <plan> --import`: adopt the login another tool already holds. The tokens are
// copied into our store; from then on BitRouter refreshes them itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { OAuthCredential } from "./credentials.ts";
import { codexClaims, jwtExpiry, OAuthError } from "./oauth.ts";
import type { PlanId } from "./plans.ts";

export function importLogin(plan: PlanId, env: Record<string, string | undefined>, homeDir: string): { credential: OAuthCredential; from: string } {
  if (plan === "anthropic") {
    const from = join(homeDir, ".claude", ".credentials.json");
    const file = readJson(from, "Claude Code") as { claudeAiOauth?: { accessToken?: string; refreshToken?: string; expiresAt?: number; subscriptionType?: string } };
    const oauth = file.claudeAiOauth;
    if (!oauth?.accessToken || !oauth.refreshToken) throw new OAuthError(`${from} holds no Claude login (claudeAiOauth); log in with \`claude\` first, or run \`bitrouter login anthropic\``);
    return {
      from,
      credential: {
        type: "oauth",
        access_token: oauth.accessToken,
        refresh_token: oauth.refreshToken,
        // Claude Code keeps milliseconds; we keep seconds.
        expires_at: oauth.expiresAt ? Math.floor(oauth.expiresAt / 1000) : 0,
        ...(oauth.subscriptionType ? { account: { plan: oauth.subscriptionType } } : {}),
        obtained_via: "import:claude-code",
      },
    };
  }
  const codexHome = env.CODEX_HOME || join(homeDir, ".codex");
  const from = join(codexHome, "auth.json");
  const file = readJson(from, "Codex") as { tokens?: { access_token?: string; refresh_token?: string; id_token?: string; account_id?: string } };
  const tokens = file.tokens;
  if (!tokens?.access_token || !tokens.refresh_token) throw new OAuthError(`${from} holds no ChatGPT login (tokens); log in with \`codex login\` first, or run \`bitrouter login openai-codex\``);
  const claims = { ...codexClaims(tokens.access_token), ...(tokens.id_token ? codexClaims(tokens.id_token) : {}) };
  const account: NonNullable<OAuthCredential["account"]> = {};
  if (claims.email) account.email = claims.email;
  if (claims.plan) account.plan = claims.plan;
  const accountId = tokens.account_id ?? claims.accountId;
  if (accountId) account.account_id = accountId;
  return {
    from,
    credential: {
      type: "oauth",
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      // Codex CLI keeps no expiry: read it from the token, or assume an hour.
      expires_at: jwtExpiry(tokens.access_token) || Math.floor(Date.now() / 1000) + 3600,
      ...(Object.keys(account).length > 0 ? { account } : {}),
      obtained_via: "import:codex",
    },
  };
}

function readJson(path: string, tool: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new OAuthError(`no ${tool} login found at ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new OAuthError(`${path} is not valid JSON`);
  }
}
