// Read a JSON request body with the checks a proxy owes its clients: the content type, a
// size limit enforced while reading (chunked bodies included), and a JSON error that says where.
import { badRequest, BitRouterError } from "../errors.ts";
import { isObject } from "../protocols/json.ts";

const JSON_TYPE = /^application\/([\w.+-]*\+)?json\b/i;

export async function readJsonObject(request: Request, limitBytes: number): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (!JSON_TYPE.test(type.trim())) {
    throw new BitRouterError(415, "invalid_request_error", `Content-Type must be application/json (got '${type || "none"}')`, { code: "unsupported_media_type" });
  }
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  // A declared length within the limit can be read in one go (Bun's fast path); a chunked body
  // is counted as it arrives.
  const text = Number.isFinite(declared) ? await request.text() : await readCounted(request, limitBytes);
  if (text.trim() === "") throw badRequest("request body is empty; expected a JSON object", "invalid_json");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${(err as Error).message}`, "invalid_json");
  }
  if (!isObject(parsed)) {
    throw badRequest("request body must be a JSON object", "invalid_json");
  }
  return parsed;
}

async function readCounted(request: Request, limitBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limitBytes) {
        reader.cancel().catch(() => {});
        throw tooLarge(limitBytes);
      }
      chunks.push(value);
    }
  }
  return new TextDecoder().decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
}

function tooLarge(limitBytes: number): BitRouterError {
  const mib = Math.round((limitBytes / 1024 / 1024) * 10) / 10;
  return new BitRouterError(413, "request_too_large", `request body is larger than the limit of ${mib} MiB (server.body_limit_mb)`, { code: "request_too_large" });
}
