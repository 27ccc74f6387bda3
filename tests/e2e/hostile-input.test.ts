// Hostile and odd input (issue #9): nothing a client sends reaches a response header unchecked,
// and no failure after the source answered turns an answer into a 500.
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { fleetConfig } from "../support/config.ts";
import { useFleet } from "../support/fleet.ts";

const fleet = useFleet((ollama, openrouter) => fleetConfig(ollama, openrouter).replace("keepalive_secs: 1", "keepalive_secs: 1\n  request_body_timeout_secs: 1"));

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

/** Sends `head` then the body pieces with pauses; resolves with everything the server wrote before it closed. */
function rawRequest(pieces: (string | number)[]): Promise<{ text: string; closedAfterMs: number }> {
  const url = new URL(fleet.bitrouter.url);
  return new Promise((resolve) => {
    const started = performance.now();
    let text = "";
    const socket = connect(Number(url.port), url.hostname, async () => {
      for (const piece of pieces) {
        if (typeof piece === "number") await Bun.sleep(piece);
        else if (!socket.destroyed) socket.write(piece);
      }
    });
    socket.on("data", (d) => (text += d.toString()));
    socket.on("close", () => resolve({ text, closedAfterMs: performance.now() - started }));
    socket.on("error", () => {});
    setTimeout(() => socket.destroy(), 8000);
  });
}

describe("every phase of reading a request has a deadline", () => {
  const body = JSON.stringify({ model: "ollama:llama3.1", messages: [{ role: "user", content: "hi" }] });
  const head = (length: number) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;

  test("a stalled body (Content-Length 1000, 14 bytes, then nothing) gets 408 and the connection is closed", async () => {
    const { text, closedAfterMs } = await rawRequest([head(1000), '{"model":"olla']);
    expect(text).toStartWith("HTTP/1.1 408");
    expect(text).toContain("request_body_timeout_secs");
    expect(closedAfterMs).toBeLessThan(7000);
    expect(fleet.ollama.requests().filter((j) => j.method === "POST")).toHaveLength(0);
  });

  const chunkedHead = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
  const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

  test("a stalled chunked body gets 408 too", async () => {
    const { text } = await rawRequest([chunkedHead, chunk('{"model":')]);
    expect(text).toStartWith("HTTP/1.1 408");
  });

  test("a slow chunked body that keeps moving is never cut, however long it takes", async () => {
    // Four pieces 700 ms apart: 2.1 s in all, past the 1 s deadline, never silent for 1 s.
    const pieces: (string | number)[] = [chunkedHead];
    const size = Math.ceil(body.length / 4);
    for (let i = 0; i < body.length; i += size) pieces.push(700, chunk(body.slice(i, i + size)));
    pieces.push(chunk(""));
    const { text } = await rawRequest(pieces);
    expect(text).toStartWith("HTTP/1.1 200");
    expect(text).toContain("Hello from ollama.");
  });

  test("a declared-length body that arrives within its allowance is served", async () => {
    const third = Math.ceil(body.length / 3);
    const { text } = await rawRequest([head(Buffer.byteLength(body)), body.slice(0, third), 250, body.slice(third, 2 * third), 250, body.slice(2 * third)]);
    expect(text).toStartWith("HTTP/1.1 200");
  });
});

describe("a body BitRouter cannot faithfully handle gets a 400 before any source is called", () => {
  const deep = (levels: number) => `${"[".repeat(levels)}"x"${"]".repeat(levels)}`;

  test.each([
    ["same-protocol pass-through", "ollama:llama3.1", (d: string) => `{"model":"ollama:llama3.1","messages":[{"role":"user","content":${d}}]}`],
    ["a tool call's input through translation", "ollama:llama3.1", (d: string) => `{"model":"ollama:llama3.1","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":${d}}}]},{"role":"user","content":"hi"}]}`],
  ])("100,000-deep nesting (%s)", async (what, _model, build) => {
    const path = what.includes("translation") ? "/v1/messages" : "/v1/chat/completions";
    const res = await fetch(`${fleet.bitrouter.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: build(deep(100_000)) });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("nested too deeply");
    expect(fleet.ollama.requests().filter((j) => j.method === "POST")).toHaveLength(0);
    expect((await fetch(`${fleet.bitrouter.url}/health`)).status).toBe(200);
  });
});

test("count_tokens with a tool schema nested 100,000 deep gets a 400, not a 500", async () => {
  const deep = `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`;
  const res = await fetch(`${fleet.bitrouter.url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `{"model":"ollama:llama3.1","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":${deep}}]}`,
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { type: string }).type).toBe("error");
});

test("two requests sent at once with the same x-bitrouter-request-id are both answered (no false routing loop)", async () => {
  const send = (marker: string) =>
    fetch(`${fleet.bitrouter.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-bitrouter-request-id": "client-reused-id" },
      body: JSON.stringify({ model: "ollama:llama3.1", messages: [{ role: "user", content: marker }] }),
    });
  const [a, b] = await Promise.all([send("#fake:slow-headers:300"), send("#fake:slow-headers:300")]);
  expect([a.status, b.status]).toEqual([200, 200]);
  const ids = [a.headers.get("x-bitrouter-request-id"), b.headers.get("x-bitrouter-request-id")];
  expect(ids).toContain("client-reused-id");
  expect(new Set(ids).size).toBe(2);
});
