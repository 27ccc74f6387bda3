// Values a target protocol constrains, normalised before a translated request is encoded:
// tool names (OpenAI's and Anthropic's pattern ^[a-zA-Z0-9_-]{1,64}$ — Claude Code's MCP tools
// are often longer, and other clients use dots), and end-user ids (OpenAI takes at most 64
// characters, Anthropic 256). A renamed tool is renamed back in the answer, so the client sees
// only its own names. Ids, media types, temperature and efforts are fitted inside each codec,
// where the target's field is written.
import type { Protocol } from "../config/schema.ts";
import { createHash } from "node:crypto";
import type { Part, Request, StreamDecoder, Response } from "./ir.ts";

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
// Gemini has no end-user field: nothing to fit.
const USER_LIMIT: Record<Protocol, number> = { chat_completions: 64, responses: 64, messages: 256, generate_content: Number.POSITIVE_INFINITY };

export interface FittedRequest {
  ir: Request;
  /** Tool names as sent → as the client named them; empty when nothing was renamed. */
  renamed: Map<string, string>;
}

function digest(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** A name the target accepts, the same for the same input (history and tools must agree). */
export function fitToolName(name: string): string {
  if (TOOL_NAME.test(name)) return name;
  const clean = name.replace(/[^a-zA-Z0-9_-]/g, "_");
  // Replaced characters or a long name: keep a readable head and a hash of the whole, so two
  // names that clean to the same text stay apart.
  return `${clean.slice(0, 55)}_${digest(name, 8)}`;
}

function fitId(value: string | undefined, limit: number): string | undefined {
  if (value === undefined || value.length <= limit) return value;
  return `h_${digest(value, Math.min(62, limit - 2))}`;
}

export function fitRequest(ir: Request, target: Protocol): FittedRequest {
  const renamed = new Map<string, string>();
  const fit = (name: string) => {
    const sent = fitToolName(name);
    if (sent !== name) renamed.set(sent, name);
    return sent;
  };
  const limit = USER_LIMIT[target];
  const user = fitId(ir.user, limit);
  const safetyIdentifier = fitId(ir.safetyIdentifier, limit);
  const needsNames = ir.tools.some((t) => !TOOL_NAME.test(t.name)) || ir.messages.some((m) => m.content.some((p) => p.type === "tool_call" && !TOOL_NAME.test(p.name)));
  if (!needsNames && user === ir.user && safetyIdentifier === ir.safetyIdentifier) return { ir, renamed };
  const fitted: Request = { ...ir, user, safetyIdentifier };
  if (needsNames) {
    fitted.tools = ir.tools.map((t) => ({ ...t, name: fit(t.name) }));
    if (ir.toolChoice?.type === "tool") fitted.toolChoice = { type: "tool", name: fit(ir.toolChoice.name) };
    fitted.messages = ir.messages.map((m) => ({ ...m, content: m.content.map((p): Part => (p.type === "tool_call" ? { ...p, name: fit(p.name) } : p)) }));
  }
  return { ir: fitted, renamed };
}

/** A whole answer with the client's own tool names. */
export function restoreToolNames(response: Response, renamed: Map<string, string>): Response {
  if (renamed.size === 0) return response;
  return { ...response, content: response.content.map((p) => (p.type === "tool_call" && renamed.has(p.name) ? { ...p, name: renamed.get(p.name)! } : p)) };
}

/** A stream decoder whose tool calls carry the client's own tool names. */
export function restoringDecoder(decoder: StreamDecoder, renamed: Map<string, string>): StreamDecoder {
  if (renamed.size === 0) return decoder;
  return {
    decode(event, data) {
      const events = decoder.decode(event, data);
      for (const e of events) if (e.type === "tool_call" && e.name !== undefined && renamed.has(e.name)) e.name = renamed.get(e.name)!;
      return events;
    },
  };
}
