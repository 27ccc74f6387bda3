// What each plan's endpoint requires of a request (../shared/reference/bitrouter-reference.md §7),
// applied after the body is in the plan's protocol: Messages for Claude, Responses for Codex.
// Pure functions.
import type { Json } from "../protocols/json.ts";
import { asArray, asObject, asString } from "../protocols/json.ts";
import { VERSION } from "../version.ts";
import { codexClaims } from "./oauth.ts";
import type { PlanId } from "./plans.ts";

export interface ShapedRequest {
  body: Json;
  headers: Record<string, string>;
}

export const CLAUDE_IDENTITY = "You are a Claude agent, built on Anthropic's Claude Agent SDK.";
const CLAUDE_IDENTITIES = [CLAUDE_IDENTITY, "You are Claude Code, Anthropic's official CLI for Claude."];
const CLAUDE_PLAN_BETAS = ["claude-code-20250219", "oauth-2025-04-20"];

export function shapeForPlan(plan: PlanId, request: ShapedRequest, token: string, accountId?: string): ShapedRequest {
  return plan === "anthropic" ? shapeClaudePlan(request, token) : shapeCodexPlan(request, token, accountId);
}

/** Bearer instead of x-api-key, the plan's betas first, Claude Code's agent headers, the identity block. */
export function shapeClaudePlan(request: ShapedRequest, token: string): ShapedRequest {
  const headers = { ...request.headers };
  delete headers["x-api-key"];
  headers.authorization = `Bearer ${token}`;
  const clientBetas = (headers["anthropic-beta"] ?? "").split(",").map((b) => b.trim()).filter(Boolean);
  headers["anthropic-beta"] = [...new Set([...CLAUDE_PLAN_BETAS, ...clientBetas])].join(",");
  headers["anthropic-version"] ??= "2023-06-01";
  headers["user-agent"] = "claude-cli/2.1.75";
  headers["x-app"] = "cli";

  const body = { ...request.body };
  const identity = { type: "text", text: CLAUDE_IDENTITY };
  const blocks = typeof body.system === "string" ? [{ type: "text", text: body.system }] : asArray(body.system).map(asObject);
  // The plan's endpoint answers a bare 429 without a recognised identity; the client's own system prompt stays after it.
  const identified = blocks.some((b) => CLAUDE_IDENTITIES.some((id) => (asString(b.text) ?? "").startsWith(id)));
  if (!identified) body.system = [identity, ...blocks.filter((b) => asString(b.text) !== "")];
  return { body, headers };
}

const CODEX_DROPPED = ["max_output_tokens", "stream_options", "client_metadata", "metadata", "thinking", "context_management", "output_config"];

/** The Codex backend's rules: stream only, nothing stored, instructions required, reasoning kept encrypted. */
export function shapeCodexPlan(request: ShapedRequest, token: string, accountId?: string): ShapedRequest {
  const headers = { ...request.headers };
  delete headers["x-api-key"];
  headers.authorization = `Bearer ${token}`;
  // The login records the account; an imported one may not, but the token's claims carry it.
  const account = accountId ?? codexClaims(token)?.accountId;
  if (account) headers["chatgpt-account-id"] = account;
  headers.originator = "bitrouter";
  headers["x-openai-internal-codex-responses-lite"] = "true";
  headers["user-agent"] = `bitrouter/${VERSION}`;
  headers.accept = "text/event-stream";

  const body = stripCacheControl(request.body) as Json;
  for (const key of CODEX_DROPPED) delete body[key];
  body.stream = true;
  body.store = false;
  body.parallel_tool_calls = false;
  body.reasoning = { ...asObject(body.reasoning), context: "all_turns" };
  const include = asArray(body.include).filter((i): i is string => typeof i === "string");
  body.include = include.includes("reasoning.encrypted_content") ? include : [...include, "reasoning.encrypted_content"];

  // System and developer turns become instructions, after any the client gave.
  const input = typeof body.input === "string" ? [{ type: "message", role: "user", content: [{ type: "input_text", text: body.input }] }] : asArray(body.input);
  const hoisted: string[] = [];
  body.input = input.filter((raw) => {
    const item = asObject(raw);
    const role = asString(item.role);
    if ((item.type === "message" || item.type === undefined) && (role === "system" || role === "developer")) {
      const content = item.content;
      hoisted.push(typeof content === "string" ? content : asArray(content).map((p) => asString(asObject(p).text) ?? "").join(""));
      return false;
    }
    return true;
  });
  const instructions = [asString(body.instructions), ...hoisted].filter((t): t is string => !!t && t.trim() !== "");
  body.instructions = instructions.length > 0 ? instructions.join("\n\n") : "You are a helpful assistant.";
  return { body, headers };
}

function stripCacheControl(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripCacheControl);
  if (value && typeof value === "object") {
    const out: Json = {};
    for (const [key, child] of Object.entries(value)) if (key !== "cache_control") out[key] = stripCacheControl(child);
    return out;
  }
  return value;
}
