// The contract between the commit gate (proxy/client-stream.ts) and a protocol: something that
// turns the upstream body into client frames and says what it saw on the way.
import type { BitRouterError } from "../errors.ts";
import type { Usage } from "./ir.ts";

/** The failure of a stream that ended (even with its own end marker) before anything worth committing. */
export const EMPTY_STREAM = "upstream stream ended before its first token";

/** Client frames in order: text, or upstream bytes passed on as they came. */
export type Frames = (string | Uint8Array)[];

export interface StreamRelay {
  /** Feed upstream body bytes, cut anywhere (the relay finds the event boundaries). */
  push(chunk: Uint8Array): void;
  /** The upstream body ended cleanly. Closing frames are added; a truncation sets `failure`. */
  end(): void;
  /** The client frames produced so far, emptied by each call. */
  take(): Frames;
  /** A content token (text, reasoning, tool call) or a clean finish was seen. */
  readonly committed: boolean;
  /** The upstream said it was done (finish reason or terminator). */
  readonly complete: boolean;
  /** An in-band error, a malformed event or a truncation: the stream cannot go on. */
  readonly failure: string | null;
  readonly usage: Usage | null;
  /** The last in-band quota statement of a plan (Codex's `codex.rate_limits` event), if any. */
  readonly limits?: Record<string, unknown> | null;
  /** The client protocol's terminal error frame(s). */
  errorFrame(error: BitRouterError): string;
}
