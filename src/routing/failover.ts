// Walk a chain of targets: try each, retry one once when the failure is transient, move
// on when it is the source's fault, stop at once when it is the request's. The attempt
// itself (sending, the commit gate, recording health) is passed in, so this file knows no
// protocol and no state.
import { BitRouterError } from "../errors.ts";
import { type AttemptFailure, exhaustedError, type FailedAttempt } from "./classify.ts";
import type { Target } from "./order.ts";

export type AttemptResult<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      failure: AttemptFailure;
      /** For `action: "surface"`: the error to give the client as it is. */
      surfaced?: BitRouterError;
    };

export type Attempt<T> = (target: Target, signal: AbortSignal) => Promise<AttemptResult<T>>;

export interface WalkOptions {
  requested: string;
  signal: AbortSignal;
  /** Called once per failed attempt (for the warning log line). */
  onFailure?: (attempt: FailedAttempt, target: Target) => void;
  /**
   * Whether a transient failure may be retried on the same target after `waitMs` (false when the
   * failure has made it cool for longer: the next target is better). Default: always.
   */
  mayRetry?: (target: Target, waitMs: number) => boolean;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface WalkResult<T> {
  value: T;
  candidate: Target;
  /** The failed attempts before the one that succeeded. */
  failed: FailedAttempt[];
}

/** The client went away; nothing is left to answer. */
export class ClientGone extends Error {
  constructor() {
    super("client closed the connection");
    this.name = "ClientGone";
  }
}

export async function walkChain<T>(candidates: Target[], attempt: Attempt<T>, options: WalkOptions): Promise<WalkResult<T>> {
  const sleep = options.sleep ?? abortableSleep;
  const failed: FailedAttempt[] = [];
  let unsupported: BitRouterError | undefined;
  for (const candidate of candidates) {
    for (let tries = 0; tries < 2; tries++) {
      if (options.signal.aborted) throw new ClientGone();
      const result = await attempt(candidate, options.signal);
      if (result.ok) return { value: result.value, candidate, failed };
      if (options.signal.aborted) throw new ClientGone();

      const record: FailedAttempt = {
        provider: candidate.source.id,
        model: candidate.upstreamModel,
        ...(candidate.source.multiAccount ? { account: candidate.account.label } : {}),
        status: result.failure.status,
        reason: result.failure.reason,
        failure: result.failure,
      };
      failed.push(record);
      options.onFailure?.(record, candidate);

      if (result.failure.action === "surface") {
        throw result.surfaced ?? exhaustedError(options.requested, failed);
      }
      if (result.failure.kind === "unsupported") {
        unsupported ??= result.surfaced;
        break;
      }
      const wait = result.failure.retrySameAfterMs;
      if (tries > 0 || wait === undefined) break;
      if (options.mayRetry && !options.mayRetry(candidate, wait)) break;
      if (wait > 0) await sleep(wait, options.signal);
    }
  }
  // No candidate could express the request: its own 400 says which field, better than a 502.
  if (unsupported && failed.every((f) => f.failure.kind === "unsupported")) throw unsupported;
  throw exhaustedError(options.requested, failed);
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
