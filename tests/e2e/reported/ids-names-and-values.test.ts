// Replayed public reports (issue #8), kind: values the target constrains (ids, tool names, user
// ids, media types, temperature, empty text). Each test names what it checks; the comment gives
// the report it replays. Paraphrased; nothing copied from the reports.
import { describe, expect, test } from "bun:test";
import { chatChunk, sse, useProtocolFleet } from "../../support/protocol-fleet.ts";

const fleet = useProtocolFleet();
const TOOL_SCHEMA = { type: "object" as const, properties: { q: { type: "string" } } };

describe("ids, names and values fitted to the target", () => {
  // maximhq/bifrost#5097
  test("a Responses client's call ids with dots and colons reach a Messages source in Anthropic's id pattern, call and output paired", async () => {
    await fleet.openai.responses.create({
      model: "msgsrc:m",
      input: [
        { role: "user", content: "run ls" },
        { type: "function_call", call_id: "functions.Bash:0", name: "Bash", arguments: '{"cmd":"ls"}' },
        { type: "function_call_output", call_id: "functions.Bash:0", output: "a.txt" },
      ],
    });
    const messages = fleet.sent(fleet.msgsrc).messages as { content: { type: string; id?: string; tool_use_id?: string }[] }[];
    const use = messages.flatMap((m) => m.content).find((b) => b.type === "tool_use")!;
    const result = messages.flatMap((m) => m.content).find((b) => b.type === "tool_result")!;
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(result.tool_use_id).toBe(use.id!);
  });

  // mrexodia/ida-pro-mcp#129 (claude-code-router)
  test("a Claude Code MCP tool name of 71 characters reaches a Chat source within 64, and the tool_use comes back under the client's name", async () => {
    const name = `mcp__ida-pro-mcp__${"decompile_function_and_rename_".repeat(2)}locals`.slice(0, 71);
    expect(name.length).toBe(71);
    await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 50, tools: [{ name, input_schema: TOOL_SCHEMA }], messages: [{ role: "user", content: "x" }] });
    const sent = (fleet.sent(fleet.chatsrc).tools as { function: { name: string } }[])[0]!.function.name;
    expect(sent.length).toBeLessThanOrEqual(64);
    fleet.chatsrc.script = { frames: [chatChunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: sent, arguments: '{"q":"main"}' } }] }), chatChunk({}, "tool_calls"), sse.chat("[DONE]")] };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 50, tools: [{ name, input_schema: TOOL_SCHEMA }], messages: [{ role: "user", content: "x" }] }).finalMessage();
    expect(message.content).toMatchObject([{ type: "tool_use", name, input: { q: "main" } }]);
  });

  // maximhq/bifrost PR#1000, mnfst/llm-gateway PR#2789
  test("a Claude Code metadata.user_id longer than 64 characters reaches a Chat source as a stable id within 64, and metadata never leaves", async () => {
    const userId = `user_${"a".repeat(64)}_account__session_5c1a8f60-1111-2222-3333-444455556666`;
    await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 10, metadata: { user_id: userId }, messages: [{ role: "user", content: "x" }] });
    const sent = fleet.sent(fleet.chatsrc);
    expect((sent.user as string).length).toBeLessThanOrEqual(64);
    expect(sent.metadata).toBeUndefined();
  });

  // NousResearch/hermes-agent#55432
  test("a Responses client's image declared image/jpg reaches a Messages source as image/jpeg", async () => {
    await fleet.openai.responses.create({ model: "msgsrc:m", input: [{ role: "user", content: [{ type: "input_image", image_url: "data:image/jpg;base64,QUJD", detail: "auto" }, { type: "input_text", text: "what?" }] }] });
    const content = (fleet.sent(fleet.msgsrc).messages as { content: { type: string; source?: { media_type: string } }[] }[])[0]!.content;
    expect(content.find((b) => b.type === "image")?.source?.media_type).toBe("image/jpeg");
  });

  // vercel/ai PR#10308
  test("a Responses client's temperature of 1.5 reaches a Messages source as 1", async () => {
    await fleet.openai.responses.create({ model: "msgsrc:m", input: "x", temperature: 1.5 });
    expect(fleet.sent(fleet.msgsrc).temperature).toBe(1);
  });

  // NousResearch/hermes-agent PR#11929
  test("an assistant turn of tool calls with empty or blank text reaches a Messages source without an empty text block", async () => {
    // Not streamed: the fake answers with a whole Messages answer (a script's frames are for streams).
    await fleet.openai.chat.completions.create({
      model: "msgsrc:m",
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", content: " ", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "done" },
      ],
    });
    const assistant = (fleet.sent(fleet.msgsrc).messages as { role: string; content: { type: string }[] }[])[1]!;
    expect(assistant.content.map((b) => b.type)).toEqual(["tool_use"]);
  });
});
