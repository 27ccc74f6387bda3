// Narrowing helpers for JSON from the wire: the codecs read untrusted bodies without trusting
// their shape, and never throw on a missing or mistyped field.

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

/** The first `"model":"…"` of a JSON text, escapes included (patched without a parse). */
export const MODEL_FIELD = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;

export const MALFORMED_EVENT = "upstream sent a malformed event";

/** The stream error for an event that is not JSON, or whose `field` should hold an object and does not. */
export function malformed(field?: string): { type: "error"; message: string } {
  return { type: "error", message: field ? `${MALFORMED_EVENT} (${field} is not an object)` : MALFORMED_EVENT };
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** A stream event's JSON, or undefined when it is not JSON (the decoders turn that into an error). */
export function parseEventData(data: string): Json | undefined {
  try {
    return asObject(JSON.parse(data));
  } catch {
    return undefined;
  }
}
