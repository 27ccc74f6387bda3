// Narrowing helpers for JSON from the wire: the codecs read untrusted bodies without trusting
// their shape, and never throw on a missing or mistyped field.

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The stream error for an event whose `field` should hold an object and does not. */
export function misshapen(field: string): { type: "error"; message: string } {
  return { type: "error", message: `upstream sent a malformed event (${field} is not an object)` };
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
