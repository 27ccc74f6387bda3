// Replayed public reports (issue #8), kind: request fields mapped across protocols. Each test
// names what it checks; the comment gives the report it replays (paraphrased).
import { describe, expect, test } from "bun:test";
import { useProtocolFleet } from "../../support/protocol-fleet.ts";

const fleet = useProtocolFleet();
const TOOL_SCHEMA = { type: "object" as const, properties: { q: { type: "string" } } };
const anthropicTool = { name: "f", input_schema: TOOL_SCHEMA };
const chatTool = { type: "function" as const, function: { name: "f", parameters: TOOL_SCHEMA } };

describe("request fields across protocols", () => {
  // router-for-me/CLIProxyAPI#1994
  test("a Messages system prompt given as a plain string reaches a Chat source as the first system message", async () => {
    await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 10, system: "You are terse.", messages: [{ role: "user", content: "x" }] });
    expect((fleet.sent(fleet.chatsrc).messages as object[])[0]).toEqual({ role: "system", content: "You are terse." });
  });

  // BerriAI/litellm#24443
  test("Messages tool_choice none reaches a Chat source as 'none' and answers 200", async () => {
    const message = await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 10, tools: [anthropicTool], tool_choice: { type: "none" }, messages: [{ role: "user", content: "x" }] });
    expect(message.type).toBe("message");
    expect(fleet.sent(fleet.chatsrc).tool_choice).toBe("none");
  });

  // BerriAI/litellm#32505
  test.each([
    [{ type: "auto" }, "auto"],
    [{ type: "any" }, "required"],
    [{ type: "none" }, "none"],
    [{ type: "tool", name: "f" }, { type: "function", name: "f" }],
  ] as const)("Messages tool_choice %j reaches a Responses source as %j", async (choice, expected) => {
    await fleet.anthropic.messages.create({ model: "respsrc:m", max_tokens: 10, tools: [anthropicTool], tool_choice: choice as never, messages: [{ role: "user", content: "x" }] });
    expect(fleet.sent(fleet.respsrc).tool_choice).toEqual(expected);
  });

  // Portkey-AI/gateway#1474
  test("Chat tool_choice 'none' reaches a Messages source as {type: none}", async () => {
    await fleet.openai.chat.completions.create({ model: "msgsrc:m", tools: [chatTool], tool_choice: "none", messages: [{ role: "user", content: "x" }] });
    expect(fleet.sent(fleet.msgsrc).tool_choice).toEqual({ type: "none" });
  });

  // BerriAI/litellm PR#18226
  test("a Chat tool message's string content reaches a Responses source as a string output", async () => {
    await fleet.openai.chat.completions.create({
      model: "respsrc:m",
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "x", content: '{"temp":15}' },
      ],
    });
    expect((fleet.sent(fleet.respsrc).input as object[]).find((i) => (i as { type?: string }).type === "function_call_output")).toEqual({ type: "function_call_output", call_id: "x", output: '{"temp":15}' });
  });

  // BerriAI/litellm#28978
  test("a Responses assistant text followed by its function_call reaches a Chat source as one assistant message with both", async () => {
    await fleet.openai.responses.create({
      model: "chatsrc:m",
      input: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "output_text", text: "ok", annotations: [] }] } as never,
        { type: "function_call", call_id: "call_good", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "call_good", output: "result" },
      ],
    });
    const messages = fleet.sent(fleet.chatsrc).messages as object[];
    expect(messages.slice(1)).toEqual([
      { role: "assistant", content: "ok", tool_calls: [{ id: "call_good", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "call_good", content: "result" },
    ]);
  });

  // BerriAI/litellm PR#34462
  test("an image inside a Messages tool_result reaches a Chat source in a user turn after the tool message, and a Responses source in the output list", async () => {
    const history = [
      { role: "user" as const, content: "screenshot please" },
      { role: "assistant" as const, content: [{ type: "tool_use" as const, id: "t1", name: "f", input: {} }] },
      { role: "user" as const, content: [{ type: "tool_result" as const, tool_use_id: "t1", content: [{ type: "image" as const, source: { type: "base64" as const, media_type: "image/png" as const, data: "iVBORw0K" } }] }] },
    ];
    await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 10, tools: [anthropicTool], messages: history });
    const chat = fleet.sent(fleet.chatsrc).messages as { role: string; content: unknown; tool_call_id?: string }[];
    expect(chat.at(-2)).toEqual({ role: "tool", tool_call_id: "t1", content: "" });
    expect(JSON.stringify(chat.at(-1))).toContain("data:image/png;base64,iVBORw0K");
    expect(chat.at(-1)!.role).toBe("user");
    await fleet.anthropic.messages.create({ model: "respsrc:m", max_tokens: 10, tools: [anthropicTool], messages: history });
    const output = (fleet.sent(fleet.respsrc).input as { type?: string; output?: unknown }[]).find((i) => i.type === "function_call_output")!.output;
    expect(output).toEqual([{ type: "input_image", image_url: "data:image/png;base64,iVBORw0K" }]);
  });

  // BerriAI/litellm PR#27947
  test("thinking in a Messages history reaches a Chat model declared to reason as reasoning_content", async () => {
    await fleet.anthropic.messages.create({
      model: "chatsrc:thinker",
      max_tokens: 10,
      tools: [anthropicTool],
      messages: [
        { role: "user", content: "x" },
        { role: "assistant", content: [{ type: "thinking", thinking: "T", signature: "s" }, { type: "tool_use", id: "t1", name: "f", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
      ],
    });
    expect((fleet.sent(fleet.chatsrc).messages as { role: string; reasoning_content?: string }[])[1]).toMatchObject({ role: "assistant", reasoning_content: "T" });
  });

  // QuantumNous/new-api#7175
  test("a single Messages stop sequence reaches a Chat source as a list", async () => {
    await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 10, stop_sequences: ["END"], messages: [{ role: "user", content: "x" }] });
    expect(fleet.sent(fleet.chatsrc).stop).toEqual(["END"]);
  });
});
