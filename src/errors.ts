// The one error type. Everything below the route throws a BitRouterError; the server
// renders it in the caller's protocol (server/render-error.ts), before or during a stream.

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "upstream_error"
  | "internal_error";

/** One try of one candidate, as listed in a final error and logged. */
export interface AttemptRecord {
  provider: string;
  model: string;
  /** The account's label, for a source with several accounts. */
  account?: string;
  status: number | null;
  reason: string;
}

/** An upstream error answer returned to the client as it came (SPEC §7: surfaced at once). */
export interface UpstreamAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export interface BitRouterErrorOptions {
  code?: string;
  param?: string;
  headers?: Record<string, string>;
  attempts?: AttemptRecord[];
  upstream?: UpstreamAnswer;
}

export class BitRouterError extends Error {
  readonly code: string | undefined;
  readonly param: string | undefined;
  readonly headers: Record<string, string>;
  readonly attempts: AttemptRecord[] | undefined;
  readonly upstream: UpstreamAnswer | undefined;

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    options: BitRouterErrorOptions = {},
  ) {
    super(message);
    this.name = "BitRouterError";
    this.code = options.code;
    this.param = options.param;
    this.headers = options.headers ?? {};
    this.attempts = options.attempts;
    this.upstream = options.upstream;
  }
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function badRequest(message: string, code = "invalid_request", param?: string): BitRouterError {
  return new BitRouterError(400, "invalid_request_error", message, { code, param });
}

/**
 * JSON nested deeper than the engine can walk (JSC's stack gives out at tens of thousands of
 * levels when a body is re-serialised or translated): a 400 instead of a 500 or a shortened body.
 */
export function tooDeep(): BitRouterError {
  return badRequest("request body is nested too deeply for BitRouter to re-serialise (tens of thousands of levels; real requests stay under a hundred); flatten it", "body_too_deep");
}

export function isTooDeep(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}
