// The two subscription plans, as data: their public OAuth clients and endpoints
// (../shared/reference/bitrouter-reference.md §7). Every URL and the callback port can be
// overridden from the environment, for tests and for corporate proxies:
//   BITROUTER_ANTHROPIC_AUTHORIZE_URL, BITROUTER_ANTHROPIC_TOKEN_URL, BITROUTER_ANTHROPIC_API_BASE,
//   BITROUTER_ANTHROPIC_CALLBACK_PORT, and the same with BITROUTER_OPENAI_CODEX_….

export type PlanId = "anthropic" | "openai-codex";

export interface Plan {
  id: PlanId;
  label: string;
  clientId: string;
  authorizeUrl: string;
  tokenUrl: string;
  scopes: string[];
  /** Added to the authorize URL after the standard PKCE parameters. */
  extraAuthorizeParams: Record<string, string>;
  /** 0 = any free port. */
  callbackPort: number;
  callbackPath: string;
  /** How the token endpoint wants its body. */
  tokenFormat: "json" | "form";
  apiBase: string;
}

const PLANS: Record<PlanId, Plan> = {
  anthropic: {
    id: "anthropic",
    label: "Claude (Pro/Max)",
    clientId: "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
    authorizeUrl: "https://claude.ai/oauth/authorize",
    tokenUrl: "https://platform.claude.com/v1/oauth/token",
    scopes: ["org:create_api_key", "user:profile", "user:inference", "user:sessions:claude_code", "user:mcp_servers", "user:file_upload"],
    extraAuthorizeParams: { code: "true" },
    callbackPort: 0,
    callbackPath: "/callback",
    tokenFormat: "json",
    apiBase: "https://api.anthropic.com/v1",
  },
  "openai-codex": {
    id: "openai-codex",
    label: "ChatGPT plan (Codex)",
    clientId: "app_EMoamEEZ73f0CkXaXp7hrann",
    authorizeUrl: "https://auth.openai.com/oauth/authorize",
    tokenUrl: "https://auth.openai.com/oauth/token",
    scopes: ["openid", "profile", "email", "offline_access"],
    extraAuthorizeParams: { codex_cli_simplified_flow: "true", id_token_add_organizations: "true", originator: "bitrouter" },
    callbackPort: 1455,
    callbackPath: "/auth/callback",
    tokenFormat: "form",
    apiBase: "https://chatgpt.com/backend-api/codex",
  },
};

export const PLAN_IDS = Object.keys(PLANS) as PlanId[];

export function isPlanId(id: string): id is PlanId {
  return id in PLANS;
}

/** The plan with any environment overrides applied. */
export function planFor(id: PlanId, env: Record<string, string | undefined>): Plan {
  const base = PLANS[id];
  const prefix = `BITROUTER_${id.toUpperCase().replace(/-/g, "_")}_`;
  const port = env[`${prefix}CALLBACK_PORT`];
  return {
    ...base,
    authorizeUrl: env[`${prefix}AUTHORIZE_URL`] || base.authorizeUrl,
    tokenUrl: env[`${prefix}TOKEN_URL`] || base.tokenUrl,
    apiBase: (env[`${prefix}API_BASE`] || base.apiBase).replace(/\/+$/, ""),
    callbackPort: port && /^\d+$/.test(port) ? Number(port) : base.callbackPort,
  };
}
