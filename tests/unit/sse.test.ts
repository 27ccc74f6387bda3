import { describe, expect, test } from "bun:test";
import { parseSseBlock, SseByteSplitter, SseSplitter } from "../../src/upstream/sse.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("SseSplitter", () => {
  test("events split across chunks come out whole", () => {
    const s = new SseSplitter();
    expect(s.pushText("data: {\"a\"")).toEqual([]);
    expect(s.pushText(":1}\n")).toEqual([]);
    expect(s.pushText("\ndata: x\n\ndata: y")).toEqual(['data: {"a":1}', "data: x"]);
    expect(s.flush()).toBe("data: y");
  });

  test("CRLF and CR line ends, including a CRLF split between chunks", () => {
    const s = new SseSplitter();
    expect(s.pushText("data: a\r\n\r")).toEqual(["data: a"]);
    expect(s.pushText("\ndata: b\r\r")).toEqual(["data: b"]);
    expect(s.pushText("data: c\r")).toEqual([]);
    expect(s.pushText("\n\r\n")).toEqual(["data: c"]);
  });

  test("bytes: whole events come out in one or two pieces, a multi-byte character split between chunks intact", () => {
    const s = new SseByteSplitter();
    const all = bytes("data: héllo ✓\n\ndata: b\n\ndata: c");
    const pieces = [...s.push(all.subarray(0, 8)), ...s.push(all.subarray(8, 14)), ...s.push(all.subarray(14))];
    expect(pieces.map((p) => new TextDecoder().decode(p)).join("")).toBe("data: héllo ✓\n\ndata: b\n\n");
    expect(new TextDecoder().decode(s.flush()!)).toBe("data: c");
  });

  test("bytes: CRLF becomes LF, also when the CR ends one chunk and the LF starts the next", () => {
    const s = new SseByteSplitter();
    const out = [...s.push(bytes("data: a\r\n\r")), ...s.push(bytes("\ndata: b\r\n\r\n"))].map((p) => new TextDecoder().decode(p));
    expect(out.join("")).toBe("data: a\n\ndata: b\n\n");
  });

  test("blocks: comments, named events, multi-line data", () => {
    expect(parseSseBlock(": keep-alive")).toEqual({ event: undefined, data: undefined });
    expect(parseSseBlock("event: message_start\ndata: {}")).toEqual({ event: "message_start", data: "{}" });
    expect(parseSseBlock("data: a\ndata: b\n: note\ndata:c")).toEqual({ event: undefined, data: "a\nb\nc" });
  });
});
