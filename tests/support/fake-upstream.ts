// A fake model source on a real socket. It speaks HTTP/1.1 by hand (raw TCP) so that it can
// misbehave the way real sources do: reset before headers, go silent, cut a stream, stall,
// send a malformed chunk or an in-band error. Every request is journaled so tests can assert
// what BitRouter sent (headers, body, attempt counts).
//
// A scenario is chosen per request: a marker `#fake:<scenario>` in the last user message wins,
// then the next queued scenario (`fake.queue`), then `fake.mode` (default "ok").
import type { Socket, TCPSocketListener } from "bun";
import { chatJson, chatStream, errorBody, geminiJson, geminiStream, messagesJson, messagesStream, responsesJson, responsesStream, scriptFor, type Wire } from "./fake-protocols.ts";

export interface JournalEntry {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  json: Record<string, unknown> | undefined;
  at: number;
  /** The TCP connection the request came on (pooled connections carry many requests). */
  connection: ConnectionRecord;
}

export interface ConnectionRecord {
  openedAt: number;
  closedAt: number | undefined;
}

export interface FakeUpstream {
  name: string;
  port: number;
  /** `http://127.0.0.1:PORT/v1` */
  baseUrl: string;
  journal: JournalEntry[];
  connections: ConnectionRecord[];
  /** Scenario used when no marker and no queued scenario applies. */
  mode: string;
  queue: string[];
  /** Models listed by GET /v1/models. */
  models: string[];
  /** Text the `ok` scenario streams, split into these chunks. */
  textChunks: string[];
  usage: { prompt_tokens: number; completion_tokens: number };
  /** Cached input tokens reported (included in usage.prompt_tokens). */
  cacheRead: number;
  /** Input tokens written to the cache (Messages and Chat sources report them), included in prompt_tokens. */
  cacheWrite: number;
  /** Reasoning tokens reported (included in completion tokens; Chat and Responses). */
  reasoningTokens: number;
  /** What POST /messages/count_tokens answers. */
  countTokens: number;
  /** Answer 401 to requests whose Authorization is `Bearer <this>` (a revoked token). */
  rejectToken: string | undefined;
  /**
   * An exact answer for every inference request while set: the frames of a stream (each
   * written as it is, in its own chunk) or a JSON body. For replaying what a real source sent.
   */
  script: ScriptedAnswer | undefined;
  /**
   * Gemini: the thought signatures this fake issued on function calls. A request whose model
   * turn holds a function call without one of them (or Google's documented stand-in,
   * `skip_thought_signature_validator`) is refused with a 400, as Gemini 3 does.
   */
  issuedSignatures: Set<string>;
  /** Headers added to every inference answer (plan windows, rate limits), chosen per request. */
  answerHeaders: ((request: JournalEntry) => Record<string, string>) | undefined;
  requests(path?: string): JournalEntry[];
  reset(): void;
  stop(): void;
}

export interface ScriptedAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** Stream frames, written verbatim (include the blank line that ends each event). */
  frames?: string[];
  /** A JSON body (for non-streaming requests, or when `frames` is absent). */
  json?: unknown;
}

interface Conn {
  socket: Socket<ConnState>;
  record: ConnectionRecord;
}

interface ConnState {
  buffer: Buffer;
  pending: Buffer[];
  closed: boolean;
  busy: boolean;
  conn: Conn;
  onClose: (() => void)[];
}

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeUpstream(name = "fake", options: { port?: number } = {}): Promise<FakeUpstream> {
  const fake: FakeUpstream = {
    name,
    port: 0,
    baseUrl: "",
    journal: [],
    connections: [],
    mode: "ok",
    queue: [],
    models: [],
    textChunks: ["Hello", " from ", name, "."],
    usage: { prompt_tokens: 11, completion_tokens: 7 },
    cacheRead: 0,
    cacheWrite: 0,
    reasoningTokens: 0,
    countTokens: 42,
    rejectToken: undefined,
    script: undefined,
    issuedSignatures: new Set(),
    answerHeaders: undefined,
    requests(path) {
      return path ? this.journal.filter((j) => j.path === path) : this.journal;
    },
    reset() {
      this.journal.length = 0;
      this.mode = "ok";
      this.queue.length = 0;
      this.cacheRead = 0;
      this.cacheWrite = 0;
      this.reasoningTokens = 0;
      this.rejectToken = undefined;
      this.script = undefined;
      this.answerHeaders = undefined;
    },
    stop() {
      listener.stop(true);
    },
  };

  const listener: TCPSocketListener<ConnState> = Bun.listen<ConnState>({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    socket: {
      open(socket) {
        const record: ConnectionRecord = { openedAt: performance.now(), closedAt: undefined };
        fake.connections.push(record);
        socket.data = { buffer: Buffer.alloc(0), pending: [], closed: false, busy: false, conn: { socket, record }, onClose: [] };
      },
      data(socket, chunk) {
        const state = socket.data;
        state.buffer = Buffer.concat([state.buffer, chunk]);
        void pump(fake, state);
      },
      drain(socket) {
        flush(socket.data);
      },
      close(socket) {
        const state = socket.data;
        state.closed = true;
        state.conn.record.closedAt = performance.now();
        for (const f of state.onClose) f();
      },
      error(socket) {
        socket.data.closed = true;
      },
    },
  });
  fake.port = listener.port;
  fake.baseUrl = `http://127.0.0.1:${listener.port}/v1`;
  return fake;
}

/** Parse as many whole requests as the buffer holds and answer them in order. */
async function pump(fake: FakeUpstream, state: ConnState): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  try {
    for (;;) {
      const headerEnd = state.buffer.indexOf("\r\n\r\n");
      if (headerEnd === -1) return;
      const head = state.buffer.subarray(0, headerEnd).toString("latin1");
      const [requestLine, ...headerLines] = head.split("\r\n");
      const [method = "", target = ""] = (requestLine ?? "").split(" ");
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      if (state.buffer.length < headerEnd + 4 + length) return;
      const body = state.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString("utf8");
      state.buffer = state.buffer.subarray(headerEnd + 4 + length);
      let json: Record<string, unknown> | undefined;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      const path = target.split("?")[0] ?? target;
      fake.journal.push({ method, path, headers, body, json, at: performance.now(), connection: state.conn.record });
      const keepOpen = fake.rejectToken && headers.authorization === `Bearer ${fake.rejectToken}` ? rejectUnauthorized(state) : await answer(fake, state, method, path, json);
      if (!keepOpen || state.closed) return;
    }
  } finally {
    state.busy = false;
  }
}

function write(state: ConnState, data: string | Uint8Array): void {
  if (state.closed) return;
  const bytes = typeof data === "string" ? Buffer.from(encoder.encode(data)) : Buffer.from(data);
  if (state.pending.length > 0) {
    state.pending.push(bytes);
    return;
  }
  const written = state.conn.socket.write(bytes);
  if (written < bytes.length) state.pending.push(bytes.subarray(Math.max(0, written)));
}

function flush(state: ConnState): void {
  while (state.pending.length > 0 && !state.closed) {
    const next = state.pending[0]!;
    const written = state.conn.socket.write(next);
    if (written < next.length) {
      state.pending[0] = next.subarray(Math.max(0, written));
      return;
    }
    state.pending.shift();
  }
}

function head(status: number, headers: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Status"}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

const STATUS_TEXT: Record<number, string> = { 200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 408: "Request Timeout", 413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 529: "Overloaded" };

function sendJson(state: ConnState, status: number, value: unknown, extra: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  write(state, head(status, { "content-type": "application/json", "content-length": String(body.length), ...extra }));
  write(state, body);
}

function chunk(state: ConnState, text: string): void {
  const bytes = Buffer.from(encoder.encode(text));
  write(state, `${bytes.length.toString(16)}\r\n`);
  write(state, bytes);
  write(state, "\r\n");
}

function endChunked(state: ConnState): void {
  write(state, "0\r\n\r\n");
}

function scenarioFor(fake: FakeUpstream, json: Record<string, unknown> | undefined): string {
  const marker = /#fake:([\w:=.,-]+)/.exec(lastUserText(json));
  if (marker) return marker[1]!;
  return fake.queue.shift() ?? fake.mode;
}

function lastUserText(json: Record<string, unknown> | undefined): string {
  const messages = (json?.messages ?? json?.input ?? geminiTurns(json?.contents)) as unknown;
  if (typeof messages === "string") return messages;
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: string; type?: string; content?: unknown };
    // A turn that returns tool results is answered as such: the marker that asked for the tools was for the turn before.
    if (m?.role === "tool" || m?.type === "function_call_output") return "";
    if (Array.isArray(m?.content) && m.content.some((p: { type?: string; functionResponse?: unknown }) => p?.type === "tool_result" || p?.functionResponse !== undefined)) return "";
    if (m?.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) return m.content.map((p: { text?: string }) => p?.text ?? "").join(" ");
  }
  return "";
}

/** Gemini contents as `{role, content}` turns, so the scenario marker is found the same way. */
function geminiTurns(contents: unknown): unknown {
  if (!Array.isArray(contents)) return undefined;
  return contents.map((c: { role?: string; parts?: { text?: string; functionResponse?: unknown }[] }) => ({ role: c?.role === "model" ? "assistant" : "user", content: c?.parts ?? [] }));
}

/** The first function call of a model turn that lacks a signature this fake issued, if any. */
function unsignedCall(fake: FakeUpstream, json: Record<string, unknown> | undefined): string | undefined {
  const contents = (json?.contents ?? []) as { role?: string; parts?: Record<string, unknown>[] }[];
  for (const [index, content] of contents.entries()) {
    if (content?.role !== "model") continue;
    const first = (content.parts ?? []).find((p) => p.functionCall !== undefined);
    if (!first) continue;
    const signature = first.thoughtSignature;
    if (typeof signature !== "string" || (!fake.issuedSignatures.has(signature) && signature !== "skip_thought_signature_validator")) {
      return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${(first.functionCall as { name?: string }).name}\` , position ${index + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`;
    }
  }
  return undefined;
}

function rejectUnauthorized(state: ConnState): boolean {
  sendJson(state, 401, { type: "error", error: { type: "authentication_error", message: "OAuth token has been revoked" } });
  return true;
}

/** Answers one request; returns whether the connection stays usable for the next one. */
async function answer(fake: FakeUpstream, state: ConnState, method: string, path: string, json: Record<string, unknown> | undefined): Promise<boolean> {
  // Ollama's own API, as a detected Ollama is asked.
  if (method === "GET" && path === "/api/tags") {
    sendJson(state, 200, { models: fake.models.map((name) => ({ name, model: name, modified_at: "2026-11-01T10:00:00Z", size: 4661224676, digest: "sha256:fake", details: { format: "gguf", family: "llama", parameter_size: "8.0B", quantization_level: "Q4_K_M" } })) });
    return true;
  }
  if (method === "POST" && path === "/api/show") {
    sendJson(state, 200, { capabilities: ["completion", "tools"], model_info: { "general.architecture": "llama", "llama.context_length": 131072 }, details: { family: "llama" } });
    return true;
  }
  if (method === "GET" && /\/models$/.test(path) && fake.name.includes("gemini")) {
    sendJson(state, 200, { models: fake.models.map((id) => ({ name: `models/${id}`, displayName: id, inputTokenLimit: 1048576, supportedGenerationMethods: ["generateContent", "countTokens"] })) });
    return true;
  }
  if (method === "GET" && path.endsWith("/models")) {
    sendJson(state, 200, { object: "list", data: fake.models.map((id) => ({ id, object: "model", created: 1700000000, owned_by: fake.name })) });
    return true;
  }
  // Gemini: POST …/models/{model}:generateContent | :streamGenerateContent?alt=sse.
  const gemini = /\/models\/(.+):(generateContent|streamGenerateContent|countTokens)$/.exec(path);
  if (method === "POST" && gemini?.[2] === "countTokens") {
    // `echo-key`: a source whose error quotes the key it was sent, as some do.
    if (fake.mode === "echo-key") sendJson(state, 400, { error: { code: 400, message: `API key not valid: ${fake.journal.at(-1)?.headers["x-goog-api-key"]}`, status: "INVALID_ARGUMENT" } });
    else sendJson(state, 200, { totalTokens: fake.countTokens });
    return true;
  }
  const wire: Wire | undefined = gemini ? "gemini" : path.endsWith("/chat/completions") ? "chat" : path.endsWith("/messages") ? "messages" : path.endsWith("/responses") ? "responses" : undefined;
  if (method === "POST" && path.endsWith("/messages/count_tokens")) {
    sendJson(state, 200, { input_tokens: fake.countTokens });
    return true;
  }
  if (method !== "POST" || !wire) {
    sendJson(state, 404, { error: { message: `no route ${method} ${path}`, type: "invalid_request_error", code: "not_found" } });
    return true;
  }

  const added = fake.answerHeaders?.(fake.journal.at(-1)!) ?? {};
  if (fake.script) {
    const { status = 200, frames, json: body } = fake.script;
    const headers = { ...added, ...(fake.script.headers ?? {}) };
    if (frames && (json?.stream === true || path.endsWith(":streamGenerateContent"))) {
      write(state, head(status, { "content-type": "text/event-stream", "transfer-encoding": "chunked", ...headers }));
      for (const f of frames) chunk(state, f);
      endChunked(state);
    } else {
      sendJson(state, status, body ?? {}, headers);
    }
    return true;
  }

  if (wire === "gemini") {
    const refusal = unsignedCall(fake, json);
    if (refusal) {
      sendJson(state, 400, { error: { code: 400, message: refusal, status: "INVALID_ARGUMENT" } });
      return true;
    }
  }
  const scenario = scenarioFor(fake, json);
  const [kind = "ok", arg, extra] = scenario.split(":");
  const stream = gemini ? gemini[2] === "streamGenerateContent" : json?.stream === true;
  const model = gemini ? decodeURIComponent(gemini[1]!) : String(json?.model ?? "unknown");

  switch (kind) {
    case "status": {
      const status = Number(arg ?? 500);
      const headers: Record<string, string> = { ...added };
      const retryAfter = /retry-after=([\d.]+)/.exec(extra ?? "")?.[1];
      if (retryAfter) headers["retry-after"] = retryAfter;
      sendJson(state, status, errorBody(wire, status), headers);
      return true;
    }
    case "reset-before-headers":
      state.conn.socket.terminate();
      return false;
    case "silent":
      return false;
    case "slow-headers":
      await sleep(Number(arg ?? 1000));
      break;
  }

  const script = scriptFor(kind, fake.textChunks, fake.usage, fake.cacheRead, { cacheWrite: fake.cacheWrite, reasoning: fake.reasoningTokens });
  const n = fake.journal.length;
  const ids = { chat: `chatcmpl-${fake.name}-${n}`, messages: `msg_${fake.name}_${n}`, responses: `resp_${fake.name}_${n}`, gemini: `${fake.name}-${n}` };
  // Each Gemini answer signs its calls with a signature of its own, which the next turn must bring back.
  const callSignature = `Cs${Buffer.from(`${fake.name}:${n}`).toString("base64")}`;
  if (wire === "gemini") fake.issuedSignatures.add(callSignature);
  const options = { id: ids[wire], model, callSignature };

  if (!stream || kind === "json-for-stream") {
    const body = wire === "chat" ? chatJson(script, options) : wire === "messages" ? messagesJson(script, options) : wire === "gemini" ? geminiJson(script, options) : responsesJson(script, options);
    if (kind === "gzip") {
      // Compressed, as many real sources answer: BitRouter's fetch decodes it, so the
      // content-encoding and content-length must not reach the client.
      const gz = Bun.gzipSync(Buffer.from(JSON.stringify(body)));
      write(state, head(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": String(gz.length), "x-ratelimit-remaining-requests": "99", "set-cookie": "session=upstream" }));
      write(state, gz);
      return true;
    }
    sendJson(state, 200, body, added);
    return true;
  }

  const includeUsage = (json?.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const r = wire === "chat" ? chatStream(script, { ...options, includeUsage }) : wire === "messages" ? messagesStream(script, options) : wire === "gemini" ? geminiStream(script, options) : responsesStream(script, options);
  write(state, head(200, { "content-type": "text/event-stream", "transfer-encoding": "chunked", "cache-control": "no-cache", ...added }));
  const count = Number(arg ?? 1);
  const send = (frames: string[]) => {
    for (const f of frames) chunk(state, f);
  };
  const all = [...r.head, ...r.content, ...r.tail];

  switch (kind) {
    case "slow-first-token":
      send(r.head);
      await sleep(Number(arg ?? 1000));
      send([...r.content, ...r.tail]);
      endChunked(state);
      return true;
    case "pause-after":
      send([...r.head, ...r.content.slice(0, count)]);
      await sleep(Number(extra ?? 1000));
      send([...r.content.slice(count), ...r.tail]);
      endChunked(state);
      return true;
    case "error-before-token":
      send([...r.head, r.inBandError]);
      endChunked(state);
      return true;
    case "end-before-token":
      send(r.head);
      endChunked(state);
      return true;
    case "stall-before-token":
      send(r.head);
      return false;
    case "odd-before-token":
      send([...r.head, r.oddShape, ...r.content, ...r.tail]);
      endChunked(state);
      return true;
    case "done-before-token":
      // Straight to the protocol's end marker: a stream with no answer in it.
      send([...r.head, r.tail[r.tail.length - 1]!]);
      endChunked(state);
      return true;
    case "malformed-before-token":
      send([...r.head, r.malformed]);
      endChunked(state);
      return true;
    case "cut-after":
    case "reset-after":
      send([...r.head, ...r.content.slice(0, count)]);
      await sleep(20);
      if (kind === "cut-after") state.conn.socket.end();
      else state.conn.socket.terminate();
      return false;
    case "end-after":
      send([...r.head, ...r.content.slice(0, count)]);
      endChunked(state);
      return true;
    case "stall-after":
      send([...r.head, ...r.content.slice(0, count)]);
      return false;
    case "malformed-after":
      send([...r.head, ...r.content.slice(0, count), r.malformed]);
      endChunked(state);
      return true;
    case "error-after":
      send([...r.head, ...r.content.slice(0, count), r.inBandError]);
      endChunked(state);
      return true;
    case "no-done":
      // The stream ends cleanly after its finish, without the protocol's own end marker.
      send([...r.head, ...r.content, ...r.tail.slice(0, -1)]);
      endChunked(state);
      return true;
    case "endless": {
      let stopped = false;
      state.onClose.push(() => {
        stopped = true;
      });
      send(r.head);
      for (let i = 0; !stopped && i < 100000; i++) {
        chunk(state, r.content[i % r.content.length]!.replace(/"(content|text|delta)":"[^"]*"/, `"$1":"tick${i} "`));
        await sleep(25);
      }
      return false;
    }
    case "crlf":
      chunk(state, all.join("").replace(/\n/g, "\r\n"));
      endChunked(state);
      return true;
    case "split": {
      // One event split across many writes, a multi-byte character split in two.
      const bytes = Buffer.from(encoder.encode(all.join("").replace(/Hello/, "héllo wörld ✓")));
      for (let i = 0; i < bytes.length; i += 7) {
        const piece = bytes.subarray(i, i + 7);
        write(state, `${piece.length.toString(16)}\r\n`);
        write(state, piece);
        write(state, "\r\n");
        await sleep(1);
      }
      endChunked(state);
      return true;
    }
    default:
      send(all);
      endChunked(state);
      return true;
  }
}
