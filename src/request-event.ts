// The one event per finished request (DESIGN, part two): everything the log line, the usage
// ledger and the metrics need, published by the proxy when the answer is over. Consumers
// subscribe; the request path publishes and moves on.
import type { Usage } from "./protocols/ir.ts";
import type { SourceKind } from "./sources/catalog.ts";

export interface RequestEvent {
  requestId: string;
  /** ms since the epoch when the request arrived. */
  at: number;
  /** The client's protocol. */
  protocol: string;
  /** The model string the client asked for. */
  requestedModel: string;
  stream: boolean;
  /** 200, the error's status, or 499 when the client went away. */
  status: number;
  /** Upstream attempts made, retries included. */
  attempts: number;
  /** The attempts that failed, in order, with the short reason the log gives (never a secret). */
  failed: { provider: string; model?: string; account?: string; status: number | null; reason?: string }[];
  /** Who answered, when someone did. */
  served?: {
    provider: string;
    kind: SourceKind;
    account: string;
    upstreamModel: string;
    /** The source declares this model (so it may be a metrics label). */
    declared: boolean;
    /** The plan's binding window when it answered (`5h@2026-11-30T19:40:00.000Z`), for `usage --by window`. */
    window?: string;
  };
  /** Time to the first byte of the answer (JSON: the whole answer), ms. */
  ttftMs?: number;
  durationMs: number;
  /** BitRouter's own time: up to the first byte, minus the time spent waiting on sources, ms. */
  overheadMs?: number;
  /** As the source reported it; null when it reported none. */
  usage: Usage | null;
}

export type RequestEventSink = (event: RequestEvent) => void;
