import { describe, expect, test } from "bun:test";
import { parseSseBlock, SseSplitter } from "../../src/upstream/sse.ts";

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

  test("a multi-byte character split between chunks survives", () => {
    const s = new SseSplitter();
    const all = bytes("data: héllo ✓\n\n");
    const out = [...s.push(all.subarray(0, 8)), ...s.push(all.subarray(8, 14)), ...s.push(all.subarray(14))];
    expect(out).toEqual(["data: héllo ✓"]);
  });

  test("blocks: comments, named events, multi-line data", () => {
    expect(parseSseBlock(": keep-alive")).toEqual({ event: undefined, data: undefined });
    expect(parseSseBlock("event: message_start\ndata: {}")).toEqual({ event: "message_start", data: "{}" });
    expect(parseSseBlock("data: a\ndata: b\n: note\ndata:c")).toEqual({ event: undefined, data: "a\nb\nc" });
  });
});
