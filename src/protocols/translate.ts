// The relays built on the stream codecs. A translating relay decodes the source's events and
// encodes them in the client's protocol, event by event. An inspecting pass-through relay
// decodes only to watch (commit, usage, the end, errors) and forwards the source's own events.
import type { BitRouterError } from "../errors.ts";
import { parseSseBlock, SseSplitter } from "../upstream/sse.ts";
import { isContent, mergeUsage, type StopReason, type StreamDecoder, type StreamEncoder, type StreamEvent, type Usage } from "./ir.ts";
import { EMPTY_STREAM, type Frames, type StreamRelay } from "./relay.ts";

interface Watch {
  committed: boolean;
  /** A tool call was seen: a finish the source left out is then a tool-call stop. */
  calledTools: boolean;
  finish: StopReason | null;
  done: boolean;
  failure: string | null;
  usage: Usage | null;
  limits: Record<string, unknown> | null;
}

function newWatch(): Watch {
  return { committed: false, calledTools: false, finish: null, done: false, failure: null, usage: null, limits: null };
}

/** What every relay notices about an event, whatever it does with it. */
function observe(watch: Watch, event: StreamEvent): void {
  if (isContent(event)) watch.committed = true;
  switch (event.type) {
    case "tool_call":
      watch.calledTools = true;
      break;
    case "usage":
      watch.usage = mergeUsage(watch.usage, event.usage);
      break;
    case "finish":
      watch.finish = event.reason;
      // A source may legitimately finish without content (an empty answer, a refusal).
      watch.committed = true;
      break;
    case "done":
      // An end with nothing before it is an empty stream, not an answer: the next source may have one.
      if (!watch.committed) watch.failure = EMPTY_STREAM;
      else watch.done = true;
      break;
    case "error":
      watch.failure = `upstream error in stream: ${event.message}`;
      break;
    case "limits":
      watch.limits = event.data;
      break;
  }
}

function eventsOf(splitter: SseSplitter, decoder: TextDecoder, chunk: Uint8Array | null): string[] {
  if (chunk) return splitter.pushText(decoder.decode(chunk, { stream: true }));
  const blocks = splitter.pushText(decoder.decode());
  const last = splitter.flush();
  return last === null ? blocks : [...blocks, last];
}

/** Frames waiting for the client, taken in one piece. */
interface Outbox {
  out: string;
}

function relayOf(watch: Watch, outbox: Outbox, errorFrame: (error: BitRouterError) => string, push: (chunk: Uint8Array) => void, end: () => void): StreamRelay {
  return {
    push,
    end,
    take(): Frames {
      const frames = outbox.out ? [outbox.out] : [];
      outbox.out = "";
      return frames;
    },
    errorFrame,
    get committed() {
      return watch.committed;
    },
    get complete() {
      return watch.done && watch.failure === null;
    },
    get failure() {
      return watch.failure;
    },
    get usage() {
      return watch.usage;
    },
    get limits() {
      return watch.limits;
    },
  };
}

/** Source events decoded by `decoder`, written for the client by `encoder`. */
export function translatingRelay(decoder: StreamDecoder, encoder: StreamEncoder): StreamRelay {
  const splitter = new SseSplitter();
  const text = new TextDecoder();
  const watch = newWatch();
  const outbox: Outbox = { out: "" };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    outbox.out += encoder.close(watch.finish ?? (watch.calledTools ? "tool_calls" : "stop"), watch.usage);
  };
  const feed = (chunk: Uint8Array | null) => {
    for (const block of eventsOf(splitter, text, chunk)) {
      if (watch.failure || watch.done) return;
      const { event, data } = parseSseBlock(block);
      if (data === undefined) continue;
      for (const ir of decoder.decode(event, data)) {
        observe(watch, ir);
        if (watch.failure) return;
        if (ir.type !== "limits") outbox.out += encoder.encode(ir);
      }
      if (watch.done) close();
    }
  };
  return relayOf(
    watch,
    outbox,
    (error) => encoder.fail(error),
    feed,
    () => {
      feed(null);
      if (watch.failure || closed) return;
      if (watch.finish) {
        watch.done = true;
        close();
      } else {
        watch.failure = watch.committed ? "upstream stream ended before it finished" : EMPTY_STREAM;
      }
    },
  );
}

export interface PassthroughOptions {
  decoder: StreamDecoder;
  /** The client-bound text of one source event (e.g. `model` patched); `name` is its event type. */
  rewrite: (block: string, name: string | undefined) => string;
  /** Frames to add when the source finished but ended without its own end marker. */
  closing: string;
  errorFrame: (error: BitRouterError) => string;
}

/** Same protocol in and out: the source's events go on as they came, watched through `decoder`. */
export function inspectingPassthrough(options: PassthroughOptions): StreamRelay {
  const splitter = new SseSplitter();
  const text = new TextDecoder();
  const watch = newWatch();
  const outbox: Outbox = { out: "" };
  const feed = (chunk: Uint8Array | null) => {
    for (const block of eventsOf(splitter, text, chunk)) {
      if (watch.failure || watch.done) return;
      const { event, data } = parseSseBlock(block);
      if (data === undefined) {
        if (watch.committed) outbox.out += `${block}\n\n`;
        continue;
      }
      for (const ir of options.decoder.decode(event, data)) observe(watch, ir);
      if (watch.failure) return;
      outbox.out += `${options.rewrite(block, event)}\n\n`;
    }
  };
  return relayOf(
    watch,
    outbox,
    options.errorFrame,
    feed,
    () => {
      feed(null);
      if (watch.failure || watch.done) return;
      if (watch.finish) {
        watch.done = true;
        outbox.out += options.closing;
      } else {
        watch.failure = watch.committed ? "upstream stream ended before it finished" : EMPTY_STREAM;
      }
    },
  );
}
