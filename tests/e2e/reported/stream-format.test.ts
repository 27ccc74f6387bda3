// Replayed public reports (issue #8), kind: stream format across protocols. Each test names what
// it checks; the comment gives the report it replays (paraphrased). The SDKs' strict helpers
// judge; where a report is about the raw frames, the frames are read.
import { describe, expect, test } from "bun:test";
import { chatChunk, messagesFrames, messagesText, messagesToolUse, responsesFrames, sse, useProtocolFleet } from "../../support/protocol-fleet.ts";

const fleet = useProtocolFleet();
const say = (content: string) => [{ role: "user" as const, content }];

/** The Chat chunks a client receives for a streamed request. */
async function chatChunks(model: string): Promise<{ choices: { delta: { role?: string; tool_calls?: { index?: number; id?: string; function?: { arguments?: string } }[] }; finish_reason: string | null }[] }[]> {
  const res = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, stream: true, messages: say("x") }) });
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.startsWith("data: {"))
    .map((b) => JSON.parse(b.slice(6)));
}

describe("stream format across protocols", () => {
  // BerriAI/litellm#34692
  test("a Chat source's tool call that finishes with 'stop' reaches a Messages client as tool_use, with no empty text block", async () => {
    fleet.chatsrc.script = { frames: [chatChunk({ role: "assistant", content: "" }), chatChunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: '{"q":"a"}' } }] }), chatChunk({}, "stop"), sse.chat("[DONE]")] };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 50, messages: say("x") }).finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content.map((b) => b.type)).toEqual(["tool_use"]);
  });

  // Portkey-AI/gateway#1275
  test("a Messages source's tool_use blocks at content indexes 1 and 2 reach a Chat client as tool calls 0 and 1", async () => {
    fleet.msgsrc.script = { frames: messagesFrames([...messagesText(0, "Let me check."), ...messagesToolUse(1, "toolu_a", "f", ['{"q":', '"a"}']), ...messagesToolUse(2, "toolu_b", "g", ['{"q":"b"}'])], "tool_use") };
    const completion = await fleet.openai.chat.completions.stream({ model: "msgsrc:m", messages: say("x") }).finalChatCompletion();
    const calls = completion.choices[0]!.message.tool_calls!.map((c) => (c.type === "function" ? [c.id, c.function.name, c.function.arguments] : []));
    expect(calls).toEqual([
      ["toolu_a", "f", '{"q":"a"}'],
      ["toolu_b", "g", '{"q":"b"}'],
    ]);
  });

  // BerriAI/litellm#21331
  test("a Responses source's two function calls reach a Chat client with distinct indexes", async () => {
    fleet.respsrc.script = { frames: responsesFrames([{ call_id: "call_a", name: "f", pieces: ['{"q":', '"a"}'] }, { call_id: "call_b", name: "g", pieces: ['{"q":"b"}'] }]) };
    const chunks = await chatChunks("respsrc:m");
    const indexes = new Set(chunks.flatMap((c) => c.choices.flatMap((ch) => (ch.delta.tool_calls ?? []).map((t) => t.index))));
    expect([...indexes]).toEqual([0, 1]);
    fleet.respsrc.script = { frames: responsesFrames([{ call_id: "call_a", name: "f", pieces: ['{"q":"a"}'] }, { call_id: "call_b", name: "g", pieces: ['{"q":"b"}'] }]) };
    const completion = await fleet.openai.chat.completions.stream({ model: "respsrc:m", messages: say("x") }).finalChatCompletion();
    expect(completion.choices[0]!.message.tool_calls!.map((c) => c.id)).toEqual(["call_a", "call_b"]);
  });

  // maximhq/bifrost PR#7235
  test("a Chat source chunk holding two tool calls reaches a Responses client as two function_call items", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: '{"q":"a"}' } }, { index: 1, id: "call_b", type: "function", function: { name: "g", arguments: '{"q":"b"}' } }] }),
        chatChunk({}, "tool_calls"),
        sse.chat("[DONE]"),
      ],
    };
    const response = await fleet.openai.responses.stream({ model: "chatsrc:m", input: "x" }).finalResponse();
    expect(response.output.filter((o) => o.type === "function_call").map((o) => (o.type === "function_call" ? [o.call_id, o.arguments] : []))).toEqual([
      ["call_a", '{"q":"a"}'],
      ["call_b", '{"q":"b"}'],
    ]);
  });

  // router-for-me/CLIProxyAPI#4727
  test("a Messages source's argument deltas reach a Chat client one by one, not buffered to the end", async () => {
    fleet.msgsrc.script = { frames: messagesFrames(messagesToolUse(0, "toolu_a", "f", ['{"q', '":"a', 'b"}']), "tool_use") };
    const chunks = await chatChunks("msgsrc:m");
    const argDeltas = chunks.flatMap((c) => c.choices.flatMap((ch) => (ch.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? ""))).filter((a) => a !== "");
    expect(argDeltas).toEqual(['{"q', '":"a', 'b"}']);
  });

  // Portkey-AI/gateway#1399, maximhq/bifrost PR#6541
  test("the first chunk a Chat client gets from a Messages source carries role assistant", async () => {
    const chunks = await chatChunks("msgsrc:m");
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
  });

  // BerriAI/litellm PR#9986
  test("role appears on the first delta only", async () => {
    for (const model of ["msgsrc:m", "respsrc:m"]) {
      const roles = (await chatChunks(model)).flatMap((c) => c.choices.map((ch) => ch.delta.role)).filter((r) => r !== undefined);
      expect(roles).toEqual(["assistant"]);
    }
  });

  // CaddyGlow/ccproxy-api PR#49
  test("every streamed tool_calls item a Chat client gets has an integer index", async () => {
    fleet.msgsrc.script = { frames: messagesFrames(messagesToolUse(0, "toolu_a", "f", ['{"q":"a"}']), "tool_use") };
    const items = (await chatChunks("msgsrc:m")).flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) expect(Number.isInteger(item.index)).toBe(true);
  });

  // katanemo/plano PR#898, looplj/axonhub PR#2000
  test("a Messages client from a Chat source gets exactly one message_start, message_delta and message_stop, even when the source omits finish_reason", async () => {
    for (const frames of [
      [chatChunk({ role: "assistant", content: "" }), chatChunk({ content: "hi" }), chatChunk({}, "stop"), sse.chat("[DONE]")],
      [chatChunk({ role: "assistant", content: "" }), chatChunk({ content: "hi" }), sse.chat("[DONE]")],
    ]) {
      fleet.chatsrc.script = { frames };
      const res = await fetch(`${fleet.bitrouter.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "chatsrc:m", max_tokens: 10, stream: true, messages: say("x") }) });
      const names = [...(await res.text()).matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      for (const once of ["message_start", "message_delta", "message_stop"]) expect(names.filter((n) => n === once)).toHaveLength(1);
      expect(names[0]).toBe("message_start");
      expect(names.at(-1)).toBe("message_stop");
    }
  });
});
