import { describe, expect, test } from "bun:test";
import { BitRouterError } from "../../src/errors.ts";
import { chatPassthroughRelay as createRelay, type ChatPassthroughOptions } from "../../src/protocols/chat-completions/passthrough.ts";

// The relay takes bytes and gives frames (text or the source's bytes); these tests speak text.
function chatPassthroughRelay(options: ChatPassthroughOptions) {
  const relay = createRelay(options);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    push: (text: string) => relay.push(encoder.encode(text)),
    take: () => relay.take().map((f) => (typeof f === "string" ? f : decoder.decode(f))).join(""),
    end: () => relay.end(),
    errorFrame: relay.errorFrame,
    get committed() {
      return relay.committed;
    },
    get complete() {
      return relay.complete;
    },
    get failure() {
      return relay.failure;
    },
    get usage() {
      return relay.usage;
    },
  };
}

// Each event as the source writes it: one data line and a blank line.
const chunk = (body: object) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "upstream-id", ...body })}\n\n`;
const role = chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
const text = (t: string) => chunk({ choices: [{ index: 0, delta: { content: t }, finish_reason: null }] });
const finish = chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
const usage = chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 3 } } });

describe("Chat pass-through relay", () => {
  test("holds lifecycle frames until the first content token, then releases them in order", () => {
    const relay = chatPassthroughRelay({ requestedModel: "smart", deliverUsage: false });
    relay.push(role);
    expect(relay.committed).toBe(false);
    relay.push(text("Hi"));
    expect(relay.committed).toBe(true);
    const frames = relay.take().trim().split("\n\n");
    expect(frames).toHaveLength(2);
    // Only `model` changes: it echoes what the client asked for.
    expect(`${frames[0]}\n\n`).toBe(role.replace('"model":"upstream-id"', '"model":"smart"'));
  });

  test("a tool call or reasoning commits as well as text", () => {
    const tool = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    tool.push(chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "c", type: "function", function: { name: "f", arguments: "" } }] } }] }));
    expect(tool.committed).toBe(true);
    const reasoning = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    reasoning.push(chunk({ choices: [{ index: 0, delta: { reasoning_content: "hmm" } }] }));
    expect(reasoning.committed).toBe(true);
  });

  test("usage: read always, delivered only when asked", () => {
    for (const deliverUsage of [false, true]) {
      const relay = chatPassthroughRelay({ requestedModel: "m", deliverUsage });
      for (const f of [role, text("a"), finish, usage, "data: [DONE]\n\n"]) relay.push(f);
      expect(relay.usage).toEqual({ inputTokens: 5, outputTokens: 2, cacheReadTokens: 3 });
      expect(relay.take().includes('"choices":[]')).toBe(deliverUsage);
      expect(relay.complete).toBe(true);
    }
  });

  test("an in-band error or a malformed event before the first token is a failure (failover)", () => {
    const errored = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    errored.push(role);
    errored.push('data: {"error":{"message":"overloaded"}}\n\n');
    expect(errored.failure).toBe("upstream error in stream: overloaded");
    expect(errored.committed).toBe(false);
    const malformed = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    malformed.push("data: {nope\n\n");
    expect(malformed.failure).toBe("upstream sent a malformed event");
  });

  test("a clean end without [DONE] gets one; an end before the finish reason is a truncation", () => {
    const ok = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    for (const f of [role, text("a"), finish]) ok.push(f);
    ok.end();
    expect(ok.take().endsWith("data: [DONE]\n\n")).toBe(true);
    expect(ok.failure).toBeNull();

    const cut = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    for (const f of [role, text("a")]) cut.push(f);
    cut.end();
    expect(cut.failure).toBe("upstream stream ended before its finish reason");
    const frame = cut.errorFrame(new BitRouterError(502, "upstream_error", "cut", { code: "stream_interrupted" }));
    expect(frame).toBe('data: {"error":{"message":"cut","type":"upstream_error","code":"stream_interrupted","param":null}}\n\ndata: [DONE]\n\n');
  });

  test("after commit: a malformed event or an error chunk fails the stream; comments pass; event lines never appear", () => {
    const relay = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    relay.push(role);
    relay.push(text("a"));
    relay.push(": OPENROUTER PROCESSING\n\n");
    relay.push(`event: message\n${text("b")}`);
    const frames = relay.take();
    expect(frames).toContain(": OPENROUTER PROCESSING\n\n");
    expect(frames).not.toContain("event:");
    relay.push('data: {"error":{"message":"gpu fell over"}}\n\n');
    expect(relay.failure).toBe("upstream error in stream: gpu fell over");
  });

  test("after commit, plain token batches pass whole, patched in one go, even when cut mid-event", () => {
    const relay = chatPassthroughRelay({ requestedModel: "smart", deliverUsage: true });
    relay.push(role + text("a"));
    relay.take();
    const batch = text("b") + text("c") + finish;
    relay.push(batch.slice(0, 50));
    expect(relay.take()).toBe("");
    relay.push(batch.slice(50) + usage.slice(0, 10));
    expect(relay.take()).toBe(batch.replaceAll('"model":"upstream-id"', '"model":"smart"'));
    relay.push(`${usage.slice(10)}data: [DONE]\n\n`);
    expect(relay.usage?.inputTokens).toBe(5);
    expect(relay.take()).toBe(`${usage.replace('"model":"upstream-id"', '"model":"smart"')}data: [DONE]\n\n`);
    expect(relay.complete).toBe(true);
  });

  test("after commit, a malformed event inside a batch is caught", () => {
    const relay = chatPassthroughRelay({ requestedModel: "m", deliverUsage: false });
    relay.push(role + text("a"));
    relay.push(`${text("b")}data: {"choices":[{"delta":{"content":"cut\n\n${text("c")}`);
    expect(relay.failure).toBe("upstream sent a malformed event");
  });
});
