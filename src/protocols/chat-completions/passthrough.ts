// Chat Completions in, Chat Completions out: bytes pass straight through with only `model`
// patched. Before commit each event is parsed (there are only a few lifecycle events). After
// commit the relay works on bytes: a scan of each batch of complete events decides, and plain
// token events go out as the very bytes that came in (`model` patched in place when it differs);
// only events that need a look (usage, an error, [DONE], an odd shape) are decoded and parsed.
import type { BitRouterError } from "../../errors.ts";
import { boundaryAfter, dataFrame, SseByteSplitter } from "../../upstream/sse.ts";
import type { Usage } from "../ir.ts";
import { EMPTY_STREAM, type Frames, type StreamRelay } from "../relay.ts";
import { MALFORMED_EVENT, MODEL_FIELD } from "../json.ts";
import { errorText, readChatUsage } from "./codec.ts";
import { chatErrorFrame } from "./errors.ts";

export interface ChatPassthroughOptions {
  /** What the client asked for: every chunk's `model` echoes it. */
  requestedModel: string;
  /** The client asked for `stream_options.include_usage`. */
  deliverUsage: boolean;
  /**
   * The request offered tools. Without them no chunk can call one, so the byte scan for
   * `"tool_calls"` (a whole pass over every batch of a text stream) is skipped. Default true.
   */
  offersTools?: boolean;
}

const FINISH_REASON = /"finish_reason"\s*:\s*"/;
const encoder = new TextEncoder();

export function chatPassthroughRelay(options: ChatPassthroughOptions): StreamRelay {
  const splitter = new SseByteSplitter();
  const decoder = new TextDecoder();
  const modelField = `"model":${JSON.stringify(options.requestedModel)}`;
  const modelFieldBytes = encoder.encode(modelField);
  /** The exact `"model":"…"` text the source writes, learned from its first event ("" = same as ours). */
  let sourceModelField: string | undefined;
  let sourceModelBytes: Uint8Array | undefined;
  let frames: Frames = [];
  let text = "";
  let committed = false;
  let finished = false;
  let done = false;
  let failure: string | null = null;
  let usage: Usage | null = null;
  /** What a finish chunk BitRouter supplies needs: the source's id and created, and whether it called tools. */
  let sourceId: string | undefined;
  let created: number | undefined;
  let calledTools = false;
  /** Still to learn whether the answer calls tools (only then is each batch scanned for it). */
  let watchCalls = options.offersTools !== false;

  const learnModel = (block: string) => {
    if (sourceId === undefined) {
      sourceId = /"id"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(block)?.[1];
      created = Number(/"created"\s*:\s*(\d+)/.exec(block)?.[1]) || undefined;
    }
    if (sourceModelField !== undefined) return;
    const found = MODEL_FIELD.exec(block)?.[0];
    if (found === undefined) return;
    sourceModelField = found === modelField ? "" : found;
    if (sourceModelField) sourceModelBytes = encoder.encode(sourceModelField);
  };
  const patchText = (block: string) => {
    learnModel(block);
    return sourceModelField ? block.replaceAll(sourceModelField, modelField) : block;
  };
  const emitBytes = (bytes: Uint8Array) => {
    if (text) {
      frames.push(text);
      text = "";
    }
    frames.push(sourceModelBytes ? replaceBytes(bytes, sourceModelBytes, modelFieldBytes) : bytes);
  };

  /** One event, looked at closely. */
  const event = (rawBlock: string) => {
    if (done || failure) return;
    const block = rawBlock.includes("event:") ? stripEventLines(rawBlock) : rawBlock;
    const data = dataOf(block);
    if (data === undefined) {
      // A comment (upstream keep-alive): worth passing on only once the stream is the client's.
      if (committed) text += `${block}\n\n`;
      return;
    }
    if (data === "[DONE]") {
      // An end with nothing before it is an empty stream, not an answer: the next source may have one.
      if (!committed) {
        failure = EMPTY_STREAM;
        return;
      }
      done = true;
      // The source's own end marker without a finish reason (some servers omit it): the
      // answer is over, and the openai SDK refuses a stream without one, so it is supplied.
      if (!finished) text += dataFrame(JSON.stringify({ id: sourceId ?? "chatcmpl-bitrouter", object: "chat.completion.chunk", created: created ?? Math.floor(Date.now() / 1000), model: options.requestedModel, choices: [{ index: 0, delta: {}, finish_reason: calledTools ? "tool_calls" : "stop" }] }));
      finished = true;
      text += dataFrame("[DONE]");
      return;
    }
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(data) as ChatChunk;
    } catch {
      failure = MALFORMED_EVENT;
      return;
    }
    if (typeof chunk !== "object" || chunk === null) {
      failure = MALFORMED_EVENT;
      return;
    }
    if (chunk.error) {
      failure = `upstream error in stream: ${errorText(chunk.error)}`;
      return;
    }
    const choices: unknown = chunk.choices;
    if (choices !== undefined && choices !== null && !Array.isArray(choices)) {
      failure = `${MALFORMED_EVENT} (choices is not a list)`;
      return;
    }
    for (const choice of choices ?? []) {
      if (typeof choice !== "object" || choice === null) {
        failure = `${MALFORMED_EVENT} (a choice is not an object)`;
        return;
      }
      if (hasContent(choice.delta)) committed = true;
      if (choice.delta?.tool_calls) calledTools = true;
      if (calledTools) watchCalls = false;
      if (choice.finish_reason) finished = committed = true;
    }
    if (chunk.usage) {
      usage = readChatUsage(chunk.usage);
      if (isUsageOnly(chunk) && !options.deliverUsage) return;
    }
    text += `${patchText(block)}\n\n`;
  };
  const events = (bytes: Uint8Array) => {
    for (const block of decoder.decode(bytes).split("\n\n")) if (block !== "") event(block);
  };

  /**
   * A batch of complete events after commit. The plain token events at its head go out as
   * they came; from the first event that needs a look on, events are taken one by one.
   */
  const batch = (bytes: Uint8Array) => {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let { plainEnd, lastPlain } = scanPlain(view);
    const usageAt = findUsageObject(view, plainEnd);
    if (usageAt !== -1) {
      plainEnd = eventStart(view, usageAt);
      lastPlain = plainEnd === 0 ? -1 : eventStart(view, plainEnd - 3);
    }
    if (plainEnd > 0 && watchCalls && view.subarray(0, plainEnd).indexOf(TOOL_CALLS_KEY) !== -1) calledTools = true;
    if (calledTools) watchCalls = false;
    if (plainEnd > 0) {
      // A finish chunk is the last plain event before anything else, so only that one needs the check.
      if (!finished && lastPlain >= 0 && FINISH_REASON.test(decoder.decode(view.subarray(lastPlain, plainEnd)))) finished = true;
      emitBytes(plainEnd === view.length ? bytes : bytes.subarray(0, plainEnd));
    }
    if (plainEnd < view.length) events(bytes.subarray(plainEnd));
  };

  /** Before commit: event by event; once committed, the rest of the piece is a batch. */
  const piece = (bytes: Uint8Array) => {
    if (committed) return batch(bytes);
    let pos = 0;
    while (pos < bytes.length && !committed && !done && !failure) {
      const end = boundaryAfter(bytes, pos, false);
      const stop = end === -1 ? bytes.length : end;
      const block = decoder.decode(bytes.subarray(pos, stop)).replace(/\n+$/, "");
      if (block.trim() !== "") {
        learnModel(block);
        event(block);
      }
      pos = stop;
    }
    if (committed && !done && !failure && pos < bytes.length) batch(bytes.subarray(pos));
  };

  return {
    push(chunk) {
      if (done || failure) return;
      for (const bytes of splitter.push(chunk)) {
        piece(bytes);
        if (done || failure) return;
      }
    },
    end() {
      const last = splitter.flush();
      if (last !== null && !done && !failure) piece(last);
      if (done || failure) return;
      if (finished) {
        done = true;
        text += dataFrame("[DONE]");
      } else {
        failure = committed ? "upstream stream ended before its finish reason" : EMPTY_STREAM;
      }
    },
    take() {
      if (text) frames.push(text);
      const out = frames;
      frames = [];
      text = "";
      return out;
    },
    get committed() {
      return committed;
    },
    get complete() {
      return done;
    },
    get failure() {
      return failure;
    },
    get usage() {
      return usage;
    },
    errorFrame(error: BitRouterError) {
      return chatErrorFrame(error);
    },
  };
}

const DATA = Buffer.from("data:");
const ERROR_OBJECT = Buffer.from('{"error"');
const USAGE_KEY = Buffer.from('"usage"');
const TOOL_CALLS_KEY = Buffer.from('"tool_calls"');

/**
 * How far `view` is plain token events: one `data: {…}` line each (or a comment), none an
 * error object. Returns where the first other event starts (`plainEnd`, the length when all
 * are plain) and where the last plain one starts (-1 when none). One indexOf per event.
 */
function scanPlain(view: Buffer): { plainEnd: number; lastPlain: number } {
  let pos = 0;
  let lastPlain = -1;
  while (pos < view.length) {
    const nl = view.indexOf(10, pos);
    if (nl === -1 || view[nl + 1] !== 10) break;
    if (view[pos] !== 58 /* ':' comment */) {
      if (!startsWithAt(view, pos, DATA)) break;
      const open = view[pos + 5] === 32 ? pos + 6 : pos + 5;
      if (view[open] !== 123 /* { */ || view[nl - 1] !== 125 /* } */) break;
      if (startsWithAt(view, open, ERROR_OBJECT)) break;
    }
    lastPlain = pos;
    pos = nl + 2;
  }
  return { plainEnd: pos, lastPlain };
}

function startsWithAt(view: Buffer, at: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (view[at + i] !== prefix[i]) return false;
  return true;
}

/** The first `"usage": {` before `limit` (OpenAI writes `"usage":null` in every chunk: those pass). */
function findUsageObject(view: Buffer, limit: number): number {
  let at = view.indexOf(USAGE_KEY);
  while (at !== -1 && at < limit) {
    let i = at + USAGE_KEY.length;
    while (view[i] === 32) i++;
    if (view[i] === 58 /* : */) {
      i++;
      while (view[i] === 32) i++;
      if (view[i] === 123 /* { */) return at;
    }
    at = view.indexOf(USAGE_KEY, at + USAGE_KEY.length);
  }
  return -1;
}

/** `bytes` with every `from` replaced by `to`, in one allocation (or `bytes` itself when none). */
function replaceBytes(bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hits: number[] = [];
  for (let at = view.indexOf(from); at !== -1; at = view.indexOf(from, at + from.length)) hits.push(at);
  if (hits.length === 0) return bytes;
  const out = new Uint8Array(bytes.length + hits.length * (to.length - from.length));
  let read = 0;
  let write = 0;
  for (const at of hits) {
    out.set(bytes.subarray(read, at), write);
    write += at - read;
    out.set(to, write);
    write += to.length;
    read = at + from.length;
  }
  out.set(bytes.subarray(read), write);
  return out;
}

/** Where the event holding `index` starts (events end with a blank line). */
function eventStart(view: Buffer, index: number): number {
  let i = view.lastIndexOf(10, index);
  while (i > 0 && view[i - 1] !== 10) i = view.lastIndexOf(10, i - 1);
  return i <= 0 ? 0 : i + 1;
}

interface ChatDelta {
  content?: unknown;
  reasoning_content?: unknown;
  reasoning?: unknown;
  refusal?: unknown;
  tool_calls?: unknown;
}

interface ChatChunk {
  error?: unknown;
  choices?: { delta?: ChatDelta; finish_reason?: string | null }[];
  usage?: Record<string, unknown> | null;
}

function hasContent(delta: ChatDelta | undefined): boolean {
  if (!delta) return false;
  return (
    nonEmpty(delta.content) ||
    nonEmpty(delta.reasoning_content) ||
    nonEmpty(delta.reasoning) ||
    nonEmpty(delta.refusal) ||
    (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
  );
}

function nonEmpty(value: unknown): boolean {
  return typeof value === "string" && value.length > 0;
}

function isUsageOnly(chunk: ChatChunk): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0;
}

function dataOf(block: string): string | undefined {
  // Fast path: a single `data: …` line.
  if (block.startsWith("data:") && !block.includes("\n")) return block.charCodeAt(5) === 32 ? block.slice(6) : block.slice(5);
  let data: string | undefined;
  for (const line of block.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

function stripEventLines(block: string): string {
  return block
    .split("\n")
    .filter((line) => !line.startsWith("event:"))
    .join("\n");
}
