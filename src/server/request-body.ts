// Read a JSON request body with the checks a proxy owes its clients: the content type, a
// size limit enforced while reading (chunked bodies included), and a JSON error that says where.
import { badRequest, BitRouterError } from "../errors.ts";
import { isObject } from "../protocols/json.ts";

const JSON_TYPE = /^application\/([\w.+-]*\+)?json\b/i;

/**
 * The body as a JSON object. `limitBytes` bounds the (decoded) size → 413; `idleMs` bounds a
 * silence while a chunked body is still due, and with 1 s per 16 KiB the whole of a
 * declared-length one → 408 with the connection closed (a stalled upload never holds a
 * connection; a slow but moving one is not cut).
 */
export async function readJsonObject(request: Request, limitBytes: number, idleMs = 30_000): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (!JSON_TYPE.test(type.trim())) {
    throw new BitRouterError(415, "invalid_request_error", `Content-Type must be application/json (got '${type || "none"}')`, { code: "unsupported_media_type" });
  }
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const codings = contentCodings(request.headers.get("content-encoding"));
  // A declared length within the limit is read in one go (Bun's fast path: a reader loop costs
  // about a third of the c=32 throughput), within a deadline that grows with its size. A chunked
  // or compressed body is counted as it arrives (decoded size included), each silence bounded.
  const text =
    codings.length === 0 && Number.isFinite(declared)
      ? await withinDeadline(request.text(), idleMs + (declared / MIN_BODY_RATE) * 1000)
      : await readCounted(codings.length > 0 ? decoded(request, codings) : request.body, limitBytes, idleMs);
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

/** Content codings BitRouter decodes (Codex compresses bodies with zstd), as DecompressionStream names them. */
const DECODERS: Record<string, string> = { gzip: "gzip", "x-gzip": "gzip", deflate: "deflate", br: "brotli", zstd: "zstd" };

/** The codings of a Content-Encoding header in the order they were applied (identity left out). */
function contentCodings(header: string | null): string[] {
  if (!header) return [];
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  for (const coding of codings) {
    if (!(coding in DECODERS)) {
      throw new BitRouterError(415, "invalid_request_error", `Content-Encoding '${coding}' is not supported; send the body uncompressed or as gzip, deflate, br or zstd`, { code: "unsupported_content_encoding" });
    }
  }
  return codings;
}

/** The body with every coding undone, last applied first; read lazily so the limit can stop it. */
function decoded(request: Request, codings: string[]): ReadableStream<Uint8Array> | null {
  let body = request.body as ReadableStream<Uint8Array> | null;
  if (!body) return null;
  for (const coding of [...codings].reverse()) {
    // Bun's DecompressionStream also takes "brotli" and "zstd", beyond the DOM typings.
    const stream = new DecompressionStream(DECODERS[coding] as ConstructorParameters<typeof DecompressionStream>[0]);
    body = body.pipeThrough(stream as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  }
  return body;
}

const utf8 = new TextDecoder();

/** Bytes per second a declared-length body may take beyond the first silence allowance (as Apache's mod_reqtimeout MinRate). */
const MIN_BODY_RATE = 16 * 1024;

/** The body text, or a 408 when it has not all come by `ms`. */
async function withinDeadline(read: Promise<string>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(bodyTimeout(ms)), ms);
  });
  // The read ends (rejected) when the 408 closes the connection.
  read.catch(() => {});
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The whole body as text: counted against the limit, each silence bounded by one re-armed timer. */
async function readCounted(body: ReadableStream<Uint8Array> | null, limitBytes: number, idleMs: number): Promise<string> {
  if (!body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Rejected before the cancel, which would otherwise end the pending read as a short body.
      reject(bodyTimeout(idleMs));
      reader.cancel().catch(() => {});
    }, idleMs);
  });
  stalled.catch(() => {});
  try {
    for (;;) {
      let step: Awaited<ReturnType<typeof reader.read>>;
      try {
        step = await Promise.race([reader.read(), stalled]);
      } catch (err) {
        if (err instanceof BitRouterError) throw err;
        // A corrupt compressed body (the plain body's own read errors are the connection's).
        throw badRequest(`request body could not be decompressed: ${(err as Error).message}`, "invalid_body_encoding");
      }
      if (step.done) break;
      timer?.refresh();
      size += step.value.byteLength;
      if (size > limitBytes) {
        reader.cancel().catch(() => {});
        throw tooLarge(limitBytes);
      }
      chunks.push(step.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
}

function bodyTimeout(ms: number): BitRouterError {
  return new BitRouterError(408, "invalid_request_error", `request body did not arrive in time: ${Math.round(ms / 100) / 10} s (server.request_body_timeout_secs, plus 1 s per 16 KiB declared)`, {
    code: "request_timeout",
    headers: { connection: "close" },
  });
}

function tooLarge(limitBytes: number): BitRouterError {
  const mib = Math.round((limitBytes / 1024 / 1024) * 10) / 10;
  return new BitRouterError(413, "request_too_large", `request body is larger than the limit of ${mib} MiB (server.body_limit_mb)`, { code: "request_too_large" });
}
