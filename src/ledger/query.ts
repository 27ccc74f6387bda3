// The query of `bitrouter usage` and GET /bitrouter/usage, one shape for both: --since/--until
// as a span back from now (`7d`, `24h`, `30m`) or a date (`2026-11-01`, an ISO time), --by.
import { z } from "zod";
import { GROUPINGS, type UsageQuery } from "./store.ts";

const SPAN = /^(\d+(?:\.\d+)?)\s*(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A time: a span back from `now`, or a date (local midnight when `local`, else UTC), in ms. */
export function parseWhen(text: string, now: number, utcOffsetMinutes: number): number | undefined {
  const value = text.trim();
  const span = SPAN.exec(value);
  if (span) return sane(now - Number(span[1]) * UNIT_MS[span[2]!]!);
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (date) {
    const midnight = Date.parse(`${value}T00:00:00Z`);
    // 2026-02-30 must not become 2 March.
    if (Number.isNaN(midnight) || new Date(midnight).toISOString().slice(0, 10) !== value) return undefined;
    return sane(midnight - utcOffsetMinutes * 60_000);
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : sane(at);
  }
  return undefined;
}

/** A time JavaScript can represent and a ledger can hold: after 1970, before 10000. */
function sane(ms: number): number | undefined {
  return Number.isFinite(ms) && ms >= 0 && ms < 253_402_300_800_000 ? ms : undefined;
}

const WHEN_HINT = "use a span back from now (30m, 24h, 7d, 2w) or a date (2026-11-01, 2026-11-01T12:00:00Z)";

/** A parameter given twice counts once, the last time (as most servers read a query). */
const once = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (Array.isArray(v) ? v.at(-1) : v), schema);

/** The query string of GET /bitrouter/usage (checked with @hono/zod-validator). */
export const usageQuerySchema = z.strictObject({
  since: once(z.string()).optional(),
  until: once(z.string()).optional(),
  by: once(z.enum(GROUPINGS, { error: `must be one of ${GROUPINGS.join(", ")}` })).optional(),
  utc_offset_minutes: once(
    z
      .string()
      .regex(/^[+-]?\d{1,3}$/, "must be whole minutes east of UTC, e.g. 60 or -300")
      .transform(Number)
      .pipe(z.number().min(-840, "must be at least -840").max(840, "must be at most 840")),
  ).optional(),
});

export type UsageQueryInput = z.infer<typeof usageQuerySchema>;

/** The query, or the one thing wrong with it (a message naming the parameter and a fix). */
export function toUsageQuery(input: UsageQueryInput, now: number, defaultOffsetMinutes = 0): { ok: true; query: UsageQuery } | { ok: false; param: string; message: string } {
  const offset = input.utc_offset_minutes ?? defaultOffsetMinutes;
  const since = parseWhen(input.since ?? "7d", now, offset);
  if (since === undefined) return { ok: false, param: "since", message: `since '${input.since}' is not a time; ${WHEN_HINT}` };
  const until = input.until === undefined ? now + 1 : parseWhen(input.until, now, offset);
  if (until === undefined) return { ok: false, param: "until", message: `until '${input.until}' is not a time; ${WHEN_HINT}` };
  if (since > now) return { ok: false, param: "since", message: `since is in the future (${new Date(since).toISOString()})` };
  if (until <= since) return { ok: false, param: "until", message: "until is not after since" };
  return { ok: true, query: { since, until, by: input.by ?? "day", utcOffsetMinutes: offset } };
}
