// Server-sent events: split a byte stream into event blocks, read a block's fields, and
// write frames. Handles events split across chunks, multi-byte UTF-8 split across chunks,
// and \n, \r\n or \r line ends (including a \r\n split between two chunks).

export class SseSplitter {
  private readonly decoder = new TextDecoder();
  private buffer = "";
  /** The last chunk ended in \r: a \n opening the next one belongs to the same line end. */
  private skipLF = false;

  /** Feed bytes; returns the complete event blocks (text between blank lines, no trailing blank line). */
  push(bytes: Uint8Array): string[] {
    return this.pushText(this.decoder.decode(bytes, { stream: true }));
  }

  pushText(input: string): string[] {
    let text = input;
    if (this.skipLF && text.charCodeAt(0) === 10) text = text.slice(1);
    this.skipLF = text.endsWith("\r");
    if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
    this.buffer += text;

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

  /** What is left when the stream ends: a last event without its blank line, if any. */
  flush(): string | null {
    const rest = (this.buffer + this.decoder.decode()).replace(/\n+$/, "");
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

/** A named frame (Anthropic Messages, OpenAI Responses). */
export function namedFrame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

export const KEEPALIVE_FRAME = ": keep-alive\n\n";
