// Replayed public reports (issue #8), kind: usage accounting across protocols. Each test names
// what it checks; the comment gives the report it replays (paraphrased). Anthropic's
// input_tokens excludes cached tokens; OpenAI's prompt_tokens / input_tokens include them.
import { describe, expect, test } from "bun:test";
import { chatChunk, messagesFrames, messagesText, responsesFrames, sse, useProtocolFleet } from "../../support/protocol-fleet.ts";

const fleet = useProtocolFleet();
const say = (content: string) => [{ role: "user" as const, content }];

describe("usage across protocols", () => {
  // maximhq/bifrost#5354
  test("a Messages source whose message_delta restates input with cache reads is counted once for a Chat client", async () => {
    fleet.msgsrc.script = { frames: messagesFrames(messagesText(0, "ok"), "end_turn", { input_tokens: 18, cache_read_input_tokens: 8831, cache_creation_input_tokens: 0, output_tokens: 426 }, { input_tokens: 8834, output_tokens: 1 }) };
    const completion = await fleet.openai.chat.completions.stream({ model: "msgsrc:m", messages: say("x"), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(completion.usage).toMatchObject({ prompt_tokens: 8849, completion_tokens: 426, prompt_tokens_details: { cached_tokens: 8831 } });
  });

  // maximhq/bifrost#3451
  test("cache writes from a Messages source reach a Responses client inside input_tokens once", async () => {
    fleet.msgsrc.script = { frames: messagesFrames(messagesText(0, "ok"), "end_turn", { output_tokens: 2745 }, { input_tokens: 6, cache_creation_input_tokens: 159217, cache_read_input_tokens: 0, output_tokens: 1 }) };
    const response = await fleet.openai.responses.stream({ model: "msgsrc:m", input: "x" }).finalResponse();
    expect(response.usage).toMatchObject({ input_tokens: 159223, output_tokens: 2745, input_tokens_details: { cached_tokens: 0 } });
  });

  // BerriAI/litellm#28354
  test("a Responses source's cached tokens reach a Messages client as cache_read_input_tokens, with input_tokens uncached", async () => {
    fleet.respsrc.script = { frames: responsesFrames([{ text: "ok" }], { usage: { input_tokens: 5000, input_tokens_details: { cached_tokens: 4000 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 } } }) };
    const message = await fleet.anthropic.messages.stream({ model: "respsrc:m", max_tokens: 50, messages: say("x") }).finalMessage();
    expect(message.usage).toMatchObject({ input_tokens: 1000, cache_read_input_tokens: 4000, output_tokens: 20 });
  });

  // vllm-project/vllm PR#40912
  test("a Chat source's prompt_tokens with cached tokens reach a Messages client split into uncached input and cache reads", async () => {
    fleet.chatsrc.script = { json: { id: "c", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 1200, completion_tokens: 5, total_tokens: 1205, prompt_tokens_details: { cached_tokens: 800 } } } };
    const message = await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 50, messages: say("x") });
    expect(message.usage).toMatchObject({ input_tokens: 400, cache_read_input_tokens: 800, cache_creation_input_tokens: 0, output_tokens: 5 });
  });

  // BerriAI/litellm#5364
  test("a Messages source's cache reads reach a streaming Chat client's usage chunk as cached_tokens", async () => {
    fleet.msgsrc.script = { frames: messagesFrames(messagesText(0, "ok"), "end_turn", { output_tokens: 3 }, { input_tokens: 10, cache_read_input_tokens: 90, cache_creation_input_tokens: 0, output_tokens: 1 }) };
    const completion = await fleet.openai.chat.completions.stream({ model: "msgsrc:m", messages: say("x"), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(completion.usage).toMatchObject({ prompt_tokens: 100, prompt_tokens_details: { cached_tokens: 90 } });
  });

  // BerriAI/litellm#34351
  test("a Responses source that stops at max_output_tokens gives a Chat client finish_reason length and the source's usage, reasoning included", async () => {
    fleet.respsrc.script = { frames: responsesFrames([{ text: "partial" }], { status: "incomplete", incomplete: { reason: "max_output_tokens" }, usage: { input_tokens: 30, output_tokens: 64, output_tokens_details: { reasoning_tokens: 60 } } }) };
    const completion = await fleet.openai.chat.completions.stream({ model: "respsrc:m", messages: say("x"), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(completion.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 64, completion_tokens_details: { reasoning_tokens: 60 } });
  });

  // QuantumNous/new-api PR#1761
  test("a Messages source's stop_reason max_tokens reaches a Chat client as finish_reason length", async () => {
    fleet.msgsrc.script = { json: { id: "msg_1", type: "message", role: "assistant", model: "m", content: [{ type: "text", text: "cut" }], stop_reason: "max_tokens", stop_sequence: null, usage: { input_tokens: 3, output_tokens: 10 } } };
    const completion = await fleet.openai.chat.completions.create({ model: "msgsrc:m", messages: say("x") });
    expect(completion.choices[0]!.finish_reason).toBe("length");
  });

  test("a Chat source streaming usage in its last chunk only reaches a Responses client with exact counts", async () => {
    fleet.chatsrc.script = { frames: [chatChunk({ role: "assistant", content: "hi" }), chatChunk({}, "stop"), sse.chat({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [], usage: { prompt_tokens: 21, completion_tokens: 2, total_tokens: 23, prompt_tokens_details: { cached_tokens: 0 } } }), sse.chat("[DONE]")] };
    const response = await fleet.openai.responses.stream({ model: "chatsrc:m", input: "x" }).finalResponse();
    expect(response.usage).toMatchObject({ input_tokens: 21, output_tokens: 2, input_tokens_details: { cached_tokens: 0 } });
  });
});
