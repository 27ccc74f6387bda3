// Which conversation a request belongs to (SPEC §16), from what agents already send: Claude
// Code's `metadata.user_id` (it carries the session id), Codex's `session_id` /
// `conversation_id` header, else the body's `prompt_cache_key` (Responses and Chat). No key,
// no affinity: requests are routed on their own.
import type { Json } from "../protocols/json.ts";

const SESSION_HEADERS = ["session_id", "conversation_id", "x-session-id"];
/** Longer keys are hashed: they are only compared, and the affinity table should stay small. */
const MAX_KEY = 200;

export function sessionKey(protocol: string, body: Json, headers: Headers): string | undefined {
  let key: string | undefined;
  if (protocol === "messages") {
    const metadata = body.metadata;
    if (metadata && typeof metadata === "object" && !Array.isArray(metadata)) key = text((metadata as Json).user_id);
  }
  if (key === undefined) {
    for (const name of SESSION_HEADERS) {
      key = text(headers.get(name));
      if (key !== undefined) break;
    }
  }
  key ??= text(body.prompt_cache_key);
  if (key === undefined) return undefined;
  return key.length > MAX_KEY ? `#${Bun.hash(key).toString(36)}` : key;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}
