// Server-sent events: split a stream into event blocks (as text, or as bytes for pass-through),
// read a block's fields, and write frames. Handles events split across chunks, multi-byte UTF-8
// split across chunks, and \n, \r\n or \r line ends (including a \r\n split between two chunks).

/** Splits decoded text into event blocks (text between blank lines, without the blank line). */
export class SseSplitter {
  private buffer = "";
  /** The last chunk ended in \r: a \n opening the next one belongs to the same line end. */
  private skipLF = false;

  pushText(input: string): string[] {
    this.append(input);
    const blocks: string[] = [];
    let start = 0;
    for (;;) {
      const end = this.buffer.indexOf("\n\n", start);
      if (end === -1) break;
      if (end > start) blocks.push(this.buffer.slice(start, end));
      start = end + 2;
    }
    // Skip the extra newlines of 3+ blank-line separators.
    while (this.buffer.charCodeAt(start) === 10) start++;
    if (start > 0) this.buffer = this.buffer.slice(start);
    return blocks;
  }

  private append(input: string): void {
    let text = input;
    if (this.skipLF && text.charCodeAt(0) === 10) text = text.slice(1);
    this.skipLF = text.endsWith("\r");
    if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
    this.buffer += text;
  }

  /** What is left when the stream ends: a last event without its blank line, if any. */
  flush(): string | null {
    const rest = this.buffer.replace(/\n+$/, "");
    this.buffer = "";
    this.skipLF = false;
    return rest.trim() === "" ? null : rest;
  }
}

export interface SseEvent {
  event: string | undefined;
  /** `data:` lines joined with \n; undefined for a comment-only block. */
  data: string | undefined;
}

export function parseSseBlock(block: string): SseEvent {
  let event: string | undefined;
  let data: string | undefined;
  for (const line of block.split("\n")) {
    if (line === "" || line.charCodeAt(0) === 58 /* ':' comment */) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
    else if (field === "event") event = value;
  }
  return { event, data };
}

/** A data-only frame (Chat Completions). */
export function dataFrame(data: string): string {
  return `data: ${data}\n\n`;
}

export const KEEPALIVE_FRAME = ": keep-alive\n\n";

const EMPTY = new Uint8Array(0);
const LF = 10;
const CR = 13;

/**
 * Splits a byte stream into whole events without decoding it (the pass-through relay looks
 * at bytes and forwards them untouched). Returns the complete events of each chunk as one or
 * two pieces, each ending with a blank line; the partial event at the end is kept for later.
 * CR and CRLF line ends are rewritten to LF (only chunks that hold a CR pay for it).
 */
export class SseByteSplitter {
  private carry: Uint8Array = EMPTY;
  private skipLF = false;

  push(chunk: Uint8Array): Uint8Array[] {
    let bytes = chunk;
    if (this.skipLF && bytes[0] === LF) bytes = bytes.subarray(1);
    this.skipLF = bytes[bytes.length - 1] === CR;
    if (bytes.includes(CR)) bytes = normaliseLineEnds(bytes);
    const pieces: Uint8Array[] = [];
    let start = 0;
    if (this.carry.length > 0) {
      // The event begun in an earlier chunk: only it is copied, not the whole chunk.
      const first = boundaryAfter(bytes, 0, this.carry[this.carry.length - 1] === LF);
      if (first === -1) {
        this.carry = concatBytes(this.carry, bytes);
        return pieces;
      }
      pieces.push(concatBytes(this.carry, bytes.subarray(0, first)));
      this.carry = EMPTY;
      start = first;
    }
    const end = lastBoundary(bytes, start);
    if (end === -1) {
      this.carry = bytes.subarray(start);
      return pieces;
    }
    pieces.push(bytes.subarray(start, end));
    this.carry = bytes.subarray(end);
    return pieces;
  }

  /** A last event without its blank line, if any. */
  flush(): Uint8Array | null {
    const rest = this.carry;
    this.carry = EMPTY;
    for (let i = 0; i < rest.length; i++) if (rest[i] !== LF) return rest;
    return null;
  }
}

/** Index just after the first blank line at or after `from` (-1 if none). */
export function boundaryAfter(bytes: Uint8Array, from: number, previousWasLF: boolean): number {
  if (previousWasLF && bytes[from] === LF) return from + 1;
  let i = bytes.indexOf(LF, from);
  while (i !== -1) {
    if (bytes[i + 1] === LF) return i + 2;
    i = bytes.indexOf(LF, i + 1);
  }
  return -1;
}

/** Index just after the last blank line at or after `from` (-1 if none). */
function lastBoundary(bytes: Uint8Array, from: number): number {
  let i = bytes.lastIndexOf(LF);
  while (i > from) {
    if (bytes[i - 1] === LF) return i + 1;
    i = bytes.lastIndexOf(LF, i - 1);
  }
  return -1;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function normaliseLineEnds(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === CR) {
      out[n++] = LF;
      if (bytes[i + 1] === LF) i++;
    } else {
      out[n++] = b;
    }
  }
  return out.subarray(0, n);
}
