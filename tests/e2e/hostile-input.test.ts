// Hostile and odd input (issue #9): nothing a client sends reaches a response header unchecked,
// and no failure after the source answered turns an answer into a 500.
import { describe, expect, test } from "bun:test";
import { useFleet } from "../support/fleet.ts";

const fleet = useFleet();

describe("client text never reaches a response header unchecked", () => {
  test.each([
    ["non-ASCII", "ollama:llama-日本語", "llama-%E6%97%A5%E6%9C%AC%E8%AA%9E"],
    ["CR LF", "ollama:m1\r\nX-Injected: yes", "m1%0D%0AX-Injected%3A%20yes"],
    ["NUL", "ollama:\u0000", "%00"],
    ["Latin-1", "ollama:café", "caf%C3%A9"],
  ])("a pinned model name with %s gets its answer, the header percent-encoded, streaming and not", async (_what, model, header) => {
    for (const stream of [false, true]) {
      const res = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "hi" }] }) });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-bitrouter-model")).toBe(header);
      expect(res.headers.get("x-injected")).toBeNull();
      const text = await res.text();
      expect(text).toContain("Hello");
      // The body echoes what the client asked for, as JSON escapes it.
      expect(text).toContain(JSON.stringify(model).slice(1, -1));
    }
  });

  test("a very long pinned model name is bounded in the header", async () => {
    const res = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: `ollama:${"x".repeat(5000)}`, messages: [{ role: "user", content: "hi" }] }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-bitrouter-model")!.length).toBeLessThanOrEqual(256);
  });
});
