// What real sources and clients send survives every crossing (issue #8), one describe per kind:
// request fields that cross a protocol, sources that bend the stream format, tool arguments
// that are always a whole JSON object, compressed request bodies, reported usage (zero
// included), and values fitted to what the target accepts. The official SDKs' strict helpers
// judge the answers; the fake sources' journals show the exact bodies they received.
import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateSync } from "node:zlib";
import { ChatAnthropic } from "@langchain/anthropic";
import { chatChunk, messagesFrames, sse, useProtocolFleet } from "../support/protocol-fleet.ts";

const fleet = useProtocolFleet();
const say = (content: string) => [{ role: "user" as const, content }];
const SCHEMA = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fleet.bitrouter.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
}

describe("request fields that cross a protocol", () => {
  test.each([
    ["output_config.format", { output_config: { format: { type: "json_schema", schema: SCHEMA } } }],
    ["the beta spelling output_format", { output_format: { type: "json_schema", schema: SCHEMA } }],
  ])("a Messages client's structured output (%s) reaches a Chat source as response_format and a Responses source as text.format", async (_what, field) => {
    for (const model of ["chatsrc:m", "respsrc:m"]) {
      const res = await post("/v1/messages", { model, max_tokens: 50, messages: say("weather?"), ...field });
      expect(res.status).toBe(200);
    }
    expect(fleet.sent(fleet.chatsrc).response_format).toEqual({ type: "json_schema", json_schema: { name: "response", schema: SCHEMA, strict: true } });
    expect(fleet.sent(fleet.respsrc).text).toEqual({ format: { type: "json_schema", name: "response", schema: SCHEMA, strict: true } });
  });

  test.each([
    ["n: 2", "n", "chatsrc", "/v1/chat/completions", { model: "msgsrc:m", n: 2, messages: say("hi") }],
    ["logprobs: true", "logprobs", "chatsrc", "/v1/chat/completions", { model: "respsrc:m", logprobs: true, messages: say("hi") }],
    ["json_object to Messages", "response_format", "chatsrc", "/v1/chat/completions", { model: "msgsrc:m", response_format: { type: "json_object" }, messages: say("hi") }],
    ["audio out", "modalities", "chatsrc", "/v1/chat/completions", { model: "msgsrc:m", modalities: ["text", "audio"], messages: say("hi") }],
    ["a background response", "background", "respsrc", "/v1/responses", { model: "chatsrc:m", background: true, input: "hi" }],
    ["Responses logprobs", "top_logprobs", "respsrc", "/v1/responses", { model: "msgsrc:m", top_logprobs: 3, input: "hi" }],
  ])("a field whose loss changes the answer's shape (%s) gets a 400 naming the field and the source; the source is never called", async (_what, field, _client, path, body) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { message: string; param: string; code: string } }).error;
    expect(error.param).toBe(field);
    expect(error.code).toBe("unsupported_parameter");
    expect(error.message).toContain(`'${field}'`);
    expect(error.message).toContain(String(body.model).replace(":", "/"));
    for (const f of [fleet.chatsrc, fleet.msgsrc, fleet.respsrc]) expect(f.requests().filter((j) => j.method === "POST")).toHaveLength(0);
  });

  test("a chain whose first source cannot express a field is served by the next one that can", async () => {
    const completion = await fleet.openai.chat.completions.create({ model: "messages-then-chat", n: 2, messages: say("hi") });
    expect(completion.choices[0]?.message.content).toBe("Hello from chatsrc.");
    expect(fleet.msgsrc.requests()).toHaveLength(0);
    expect(fleet.sent(fleet.chatsrc).n).toBe(2);
  });

  test("dropped fields are logged at debug level, naming each field", async () => {
    await fleet.openai.chat.completions.create({ model: "msgsrc:m", seed: 7, logit_bias: { "50256": -100 }, messages: say("hi") });
    const sent = fleet.sent(fleet.msgsrc);
    expect(sent.seed).toBeUndefined();
    expect(sent.logit_bias).toBeUndefined();
    await Bun.sleep(50);
    expect(fleet.bitrouter.stderr()).toMatch(/DEBUG fields not sent .*provider=msgsrc .*fields="?seed,logit_bias/);
  });
});

describe("sources that bend the stream format", () => {
  const twoCallsByIdOnly = [
    chatChunk({ role: "assistant", content: "" }),
    chatChunk({ tool_calls: [{ id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] }),
    chatChunk({ tool_calls: [{ id: "call_b", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' } }] }),
    chatChunk({}, "tool_calls"),
    sse.chat("[DONE]"),
  ];
  const tools = [
    { name: "get_weather", input_schema: { type: "object" as const, properties: { city: { type: "string" } } } },
    { name: "get_time", input_schema: { type: "object" as const, properties: { tz: { type: "string" } } } },
  ];

  test("two tool calls with their own ids and no index reach a Messages client as two tool_use blocks", async () => {
    fleet.chatsrc.script = { frames: twoCallsByIdOnly };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, tools, messages: say("weather and time?") }).finalMessage();
    expect(message.content).toMatchObject([
      { type: "tool_use", id: "call_a", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_b", name: "get_time", input: { tz: "CET" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });

  test("…and a Responses client as two function_call items", async () => {
    fleet.chatsrc.script = { frames: twoCallsByIdOnly };
    const response = await fleet.openai.responses.stream({ model: "chatsrc:m", input: "weather and time?", tools: [{ type: "function", name: "get_weather", parameters: {}, strict: false }] }).finalResponse();
    const calls = response.output.filter((o) => o.type === "function_call");
    expect(calls.map((c) => [c.call_id, c.name, JSON.parse(c.arguments)])).toEqual([
      ["call_a", "get_weather", { city: "Paris" }],
      ["call_b", "get_time", { tz: "CET" }],
    ]);
  });

  test("every call numbered 0 with a new id each time is still two calls", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ role: "assistant" }),
        chatChunk({ tool_calls: [{ index: 0, id: "call_a", function: { name: "get_weather", arguments: "" } }] }),
        chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }),
        chatChunk({ tool_calls: [{ index: 0, id: "call_b", function: { name: "get_time", arguments: '{"tz":"CET"}' } }] }),
        chatChunk({}, "tool_calls"),
        sse.chat("[DONE]"),
      ],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, tools, messages: say("x") }).finalMessage();
    expect(message.content.map((b) => (b.type === "tool_use" ? b.input : null))).toEqual([{ city: "Paris" }, { tz: "CET" }]);
  });

  test("an id that comes only on a later delta, arguments sent as an object, and finish_reason 'stop' after tool calls", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ role: "assistant", content: "" }),
        chatChunk({ tool_calls: [{ index: 0, function: { name: "get_weather" } }] }),
        chatChunk({ tool_calls: [{ index: 0, id: "call_late", function: { arguments: { city: "Paris" } } }] }),
        chatChunk({}, "stop"),
        sse.chat("[DONE]"),
      ],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, tools, messages: say("x") }).finalMessage();
    expect(message.content).toMatchObject([{ type: "tool_use", id: "call_late", name: "get_weather", input: { city: "Paris" } }]);
    expect(message.stop_reason).toBe("tool_use");

    const completion = await fleet.openai.chat.completions.stream({ model: "msgsrc:m", messages: say("x") }).finalChatCompletion().catch(() => null);
    expect(completion).not.toBeNull();
  });

  test("a Chat source that never sends tool-call ids gets unique ids for each call", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ tool_calls: [{ index: 0, function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] }),
        chatChunk({ tool_calls: [{ index: 1, function: { name: "get_time", arguments: '{"tz":"CET"}' } }] }),
        chatChunk({}, "tool_calls"),
        sse.chat("[DONE]"),
      ],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, tools, messages: say("x") }).finalMessage();
    const ids = message.content.map((b) => (b.type === "tool_use" ? b.id : ""));
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
  });

  test("usage in every chunk and a repeated role chunk: the client sees one answer with the last counts", async () => {
    const usage = (n: number) => ({ usage: { prompt_tokens: 9, completion_tokens: n, total_tokens: 9 + n } });
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ role: "assistant", content: "" }, null, usage(0)),
        chatChunk({ role: "assistant", content: "Hel" }, null, usage(1)),
        chatChunk({ role: "assistant", content: "lo" }, null, usage(2)),
        chatChunk({}, "stop", usage(2)),
        sse.chat("[DONE]"),
      ],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, messages: say("x") }).finalMessage();
    expect(message.content).toMatchObject([{ type: "text", text: "Hello" }]);
    expect(message.usage).toMatchObject({ input_tokens: 9, output_tokens: 2 });
    const completion = await fleet.openai.chat.completions.stream({ model: "chatsrc:m", messages: say("x"), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(completion.choices[0]?.message).toMatchObject({ role: "assistant", content: "Hello" });
    expect(completion.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 2 });
  });
});

describe("tool arguments are always a whole JSON object", () => {
  const zeroArgFrames = (withEmptyDelta: boolean) =>
    messagesFrames(
      [
        sse.named("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_now", name: "get_time", input: {} } }),
        ...(withEmptyDelta ? [sse.named("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: "" } })] : []),
        sse.named("content_block_stop", { index: 0 }),
      ],
      "tool_use",
    );
  const tool = { type: "function" as const, function: { name: "get_time", parameters: { type: "object", properties: {} } } };

  test.each([
    ["an empty partial_json", true],
    ["no delta at all", false],
  ])("a zero-argument tool_use (%s) reaches a Chat client as '{}'", async (_what, withEmptyDelta) => {
    fleet.msgsrc.script = { frames: zeroArgFrames(withEmptyDelta) };
    const completion = await fleet.openai.chat.completions.stream({ model: "msgsrc:m", messages: say("time?"), tools: [tool] }).finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.arguments).toBe("{}");
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
  });

  test("…and a Responses client as '{}' in function_call_arguments.done and response.completed", async () => {
    fleet.msgsrc.script = { frames: zeroArgFrames(true) };
    const stream = fleet.openai.responses.stream({ model: "msgsrc:m", input: "time?", tools: [{ type: "function", name: "get_time", parameters: {}, strict: false }] });
    const done: string[] = [];
    stream.on("response.function_call_arguments.done", (e) => done.push(e.arguments));
    const response = await stream.finalResponse();
    expect(done).toEqual(["{}"]);
    const call = response.output.find((o) => o.type === "function_call");
    expect(call?.type === "function_call" && call.arguments).toBe("{}");
  });

  test("whole answers: a function_call with empty arguments becomes '{}' for a Chat client", async () => {
    fleet.respsrc.script = {
      json: { id: "resp_1", object: "response", created_at: 1, status: "completed", model: "m", output: [{ id: "fc_1", type: "function_call", status: "completed", call_id: "call_1", name: "get_time", arguments: "" }], usage: { input_tokens: 3, output_tokens: 2 } },
    };
    const completion = await fleet.openai.chat.completions.create({ model: "respsrc:m", messages: say("time?"), tools: [tool] });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.arguments).toBe("{}");
  });
});

describe("compressed request bodies", () => {
  const body = JSON.stringify({ model: "respsrc:m", input: "compressed hello" });
  const encoders: Record<string, (b: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>> = {
    zstd: (b) => new Uint8Array(Bun.zstdCompressSync(b)),
    gzip: (b) => Bun.gzipSync(b),
    deflate: (b) => new Uint8Array(deflateSync(b)),
    br: (b) => new Uint8Array(brotliCompressSync(b)),
  };

  test.each(Object.keys(encoders))("a %s body is decoded before it is parsed", async (coding) => {
    const res = await fetch(`${fleet.bitrouter.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": coding }, body: encoders[coding]!(new TextEncoder().encode(body)) });
    expect(res.status).toBe(200);
    expect(fleet.sent(fleet.respsrc).input).toBe("compressed hello");
  });

  test("an unknown encoding gets 415 in the route's protocol", async () => {
    const res = await fetch(`${fleet.bitrouter.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "lzma" }, body: "xx" });
    expect(res.status).toBe(415);
    const error = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(error.type).toBe("error");
    expect(error.error.message).toContain("lzma");
  });

  test("a small compressed bomb gets 413: the limit applies to the decoded size", async () => {
    const bomb = Bun.gzipSync(Buffer.from(JSON.stringify({ model: "respsrc:m", input: "a".repeat(40 * 1024 * 1024) })));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const res = await fetch(`${fleet.bitrouter.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: bomb });
    expect(res.status).toBe(413);
    expect(fleet.respsrc.requests().filter((j) => j.method === "POST")).toHaveLength(0);
    expect((await fetch(`${fleet.bitrouter.url}/health`)).status).toBe(200);
  });

  test("a corrupt compressed body gets a 400, not a 500", async () => {
    const res = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: "not gzip at all" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("decompress");
  });
});

describe("usage the source reported survives every crossing, zero included", () => {
  test("a Messages source's zero cache counts reach a Chat client as zeros, not as absent", async () => {
    fleet.msgsrc.script = {
      frames: messagesFrames([sse.named("content_block_start", { index: 0, content_block: { type: "text", text: "" } }), sse.named("content_block_delta", { index: 0, delta: { type: "text_delta", text: "hi" } }), sse.named("content_block_stop", { index: 0 })], "end_turn", { output_tokens: 3 }, {
        input_tokens: 10,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
        output_tokens: 1,
      }),
    };
    const completion = await fleet.openai.chat.completions.stream({ model: "msgsrc:m", messages: say("x"), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(completion.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 0 } });
  });

  test("a Responses source's zero reasoning tokens reach a Chat client; a Chat source that reports no details gets none invented", async () => {
    const completion = await fleet.openai.chat.completions.create({ model: "respsrc:m", messages: say("x") });
    expect(completion.usage?.completion_tokens_details).toEqual({ reasoning_tokens: 0 });
    fleet.chatsrc.script = { json: { id: "c", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } } };
    const response = await fleet.openai.responses.create({ model: "chatsrc:m", input: "x" });
    expect(response.usage).toMatchObject({ input_tokens: 4, output_tokens: 1 });
  });

  test("an Anthropic client streaming from a Chat source: message_start carries BitRouter's estimate, message_delta the source's exact counts", async () => {
    const prompt = "a".repeat(400);
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 100, messages: say(prompt) }).finalMessage();
    // finalMessage() takes message_delta's counts: the source's own.
    expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    const res = await post("/v1/messages", { model: "chatsrc:m", max_tokens: 100, stream: true, messages: say(prompt) });
    const text = await res.text();
    const start = JSON.parse(/event: message_start\ndata: (.*)/.exec(text)![1]!) as { message: { usage: { input_tokens: number } } };
    expect(start.message.usage.input_tokens).toBe(103); // 400 chars / 4 + 3 for the message
  });

  test("LangChain's ChatAnthropic, which reads input tokens only from message_start, records a non-zero count", async () => {
    const model = new ChatAnthropic({ model: "chatsrc:m", apiKey: "client-key", anthropicApiUrl: fleet.bitrouter.url, maxRetries: 0, streaming: true, streamUsage: true, maxTokens: 100 });
    let usage: { input_tokens: number; output_tokens: number } | undefined;
    for await (const chunk of await model.stream("a".repeat(400))) {
      if (chunk.usage_metadata) usage = { input_tokens: (usage?.input_tokens ?? 0) + chunk.usage_metadata.input_tokens, output_tokens: (usage?.output_tokens ?? 0) + chunk.usage_metadata.output_tokens };
    }
    expect(usage?.input_tokens).toBe(103);
    expect(usage?.output_tokens).toBe(7);
  });
});

describe("values are fitted to what the target accepts", () => {
  const longName = `mcp__${"very_long_server_name_".repeat(3)}__search.files`;

  test("a tool name longer than 64 characters or with a dot reaches a Messages or Chat source fitted, and comes back to the client as it was", async () => {
    fleet.msgsrc.script = {
      frames: messagesFrames(
        [
          sse.named("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "PLACEHOLDER", input: {} } }),
          sse.named("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '{"q":"x"}' } }),
          sse.named("content_block_stop", { index: 0 }),
        ],
        "tool_use",
      ),
    };
    // First learn the name BitRouter sends, then have the fake call it.
    await post("/v1/chat/completions", { model: "msgsrc:m", messages: say("x"), tools: [{ type: "function", function: { name: longName, parameters: { type: "object" } } }] }).then((r) => r.text());
    const sentName = (fleet.sent(fleet.msgsrc).tools as { name: string }[])[0]!.name;
    expect(sentName).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    fleet.msgsrc.script.frames = fleet.msgsrc.script.frames!.map((f) => f.replace("PLACEHOLDER", sentName));
    const completion = await fleet.openai.chat.completions
      .stream({ model: "msgsrc:m", messages: say("x"), tools: [{ type: "function", function: { name: longName, parameters: { type: "object" } } }], tool_choice: { type: "function", function: { name: longName } } })
      .finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe(longName);
    expect(fleet.sent(fleet.msgsrc).tool_choice).toEqual({ type: "tool", name: sentName });
  });

  test("another source's tool-call ids (functions.Bash:0) reach a Messages source in Anthropic's pattern, call and result still paired", async () => {
    await fleet.openai.chat.completions.create({
      model: "msgsrc:m",
      messages: [
        { role: "user", content: "list files" },
        { role: "assistant", content: "", tool_calls: [{ id: "functions.Bash:0", type: "function", function: { name: "Bash", arguments: '{"cmd":"ls"}' } }] },
        { role: "tool", tool_call_id: "functions.Bash:0", content: "a.txt" },
      ],
    });
    const messages = fleet.sent(fleet.msgsrc).messages as { role: string; content: { type: string; id?: string; tool_use_id?: string; text?: string }[] }[];
    const use = messages[1]!.content.find((b) => b.type === "tool_use")!;
    const result = messages[2]!.content.find((b) => b.type === "tool_result")!;
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(result.tool_use_id).toBe(use.id!);
    // The empty assistant text is not sent as an empty block (Messages refuses those).
    expect(messages[1]!.content.filter((b) => b.type === "text")).toHaveLength(0);
  });

  test("image/jpg becomes image/jpeg, temperature above 1 becomes 1, and a long Claude Code user id fits OpenAI's 64 characters", async () => {
    const jpeg = Buffer.from("fake-jpeg").toString("base64");
    await fleet.openai.chat.completions.create({ model: "msgsrc:m", temperature: 1.5, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: `data:image/jpg;base64,${jpeg}` } }, { type: "text", text: "what is it?" }] }] });
    const sent = fleet.sent(fleet.msgsrc) as { temperature: number; messages: { content: { type: string; source?: { media_type: string } }[] }[] };
    expect(sent.temperature).toBe(1);
    expect(sent.messages[0]!.content[0]!.source!.media_type).toBe("image/jpeg");

    const userId = `user_${"f".repeat(64)}_account_0b7e1c2d-aaaa-bbbb-cccc-0123456789ab_session_1f2e3d4c-aaaa-bbbb-cccc-0123456789ab`;
    for (const model of ["chatsrc:m", "respsrc:m"]) {
      await fleet.anthropic.messages.create({ model, max_tokens: 10, metadata: { user_id: userId }, messages: say("x") });
    }
    for (const source of [fleet.chatsrc, fleet.respsrc]) {
      const user = fleet.sent(source).user as string;
      expect(user.length).toBeLessThanOrEqual(64);
      expect(user).not.toBe(userId);
    }
    // The same user always maps to the same id (it still identifies one user).
    expect(fleet.sent(fleet.chatsrc).user).toBe(fleet.sent(fleet.respsrc).user);
  });

  test("Anthropic's effort 'max' reaches an OpenAI source as an effort it accepts", async () => {
    await fleet.anthropic.messages.create({ model: "chatsrc:thinker", max_tokens: 10, messages: say("x"), output_config: { effort: "max" } } as never);
    expect(fleet.sent(fleet.chatsrc).reasoning_effort).toBe("high");
    await fleet.openai.chat.completions.create({ model: "msgsrc:thinker", reasoning_effort: "minimal", messages: say("x") });
    expect((fleet.sent(fleet.msgsrc).output_config as { effort: string }).effort).toBe("low");
  });
});

describe("found by trying it as a new user would (review of this issue)", () => {
  test("a user turn whose every part cannot cross gets a 400 naming it, instead of vanishing from the conversation", async () => {
    const res = await post("/v1/chat/completions", { model: "msgsrc:m", messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "Sure" }, { role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }] });
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { message: string; param: string } }).error;
    expect(error.param).toBe("messages[2].content");
    expect(error.message).toContain("input_audio");
    const ref = await post("/v1/responses", { model: "chatsrc:m", input: [{ type: "item_reference", id: "msg_1" }] });
    expect(ref.status).toBe(400);
    expect(fleet.msgsrc.requests().filter((j) => j.method === "POST")).toHaveLength(0);
    expect(fleet.chatsrc.requests().filter((j) => j.method === "POST")).toHaveLength(0);
  });

  test("an id that changes mid-call at the same index (no new name) continues the call", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_x", arguments: '{"a"' } }] }),
        chatChunk({ tool_calls: [{ index: 0, id: "call_b", function: { arguments: ":1}" } }] }),
        chatChunk({}, "tool_calls"),
        sse.chat("[DONE]"),
      ],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage();
    expect(message.content).toMatchObject([{ type: "tool_use", id: "call_a", name: "get_x", input: { a: 1 } }]);
  });

  test("object arguments over several deltas are merged into one JSON object", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ tool_calls: [{ id: "call_a", type: "function", function: { name: "get_x", arguments: {} } }] }),
        chatChunk({ tool_calls: [{ id: "call_a", function: { arguments: { a: 1 } } }] }),
        chatChunk({}, "tool_calls"),
        sse.chat("[DONE]"),
      ],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage();
    expect(message.content).toMatchObject([{ type: "tool_use", input: { a: 1 } }]);
    fleet.chatsrc.script = { frames: fleet.chatsrc.script.frames };
    const response = await fleet.openai.responses.stream({ model: "chatsrc:m", input: "x" }).finalResponse();
    const call = response.output.find((o) => o.type === "function_call");
    expect(call?.type === "function_call" && JSON.parse(call.arguments)).toEqual({ a: 1 });
  });

  test("a streamed call with no name is kept as whole answers keep it; 'tool_calls' with no call is a plain stop", async () => {
    fleet.chatsrc.script = { frames: [chatChunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { arguments: '{"a":1}' } }] }), chatChunk({}, "tool_calls"), sse.chat("[DONE]")] };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage();
    expect(message.content).toMatchObject([{ type: "tool_use", id: "call_a", input: { a: 1 } }]);
    fleet.chatsrc.script = { frames: [chatChunk({ content: "hi" }), chatChunk({}, "tool_calls"), sse.chat("[DONE]")] };
    const plain = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage();
    expect(plain.stop_reason).toBe("end_turn");
  });

  test("n given as the string \"2\" is refused like the number", async () => {
    const res = await post("/v1/chat/completions", { model: "msgsrc:m", n: "2", messages: say("hi") });
    expect(res.status).toBe(400);
  });
});

describe("found by a second new user, from the README alone (review of this issue)", () => {
  test("a Chat stream that ends with [DONE] but no finish_reason gets one supplied, for a Chat client and across protocols", async () => {
    const frames = [chatChunk({ role: "assistant", content: "Hel" }), chatChunk({ content: "lo" }), sse.chat("[DONE]")];
    fleet.chatsrc.script = { frames };
    const completion = await fleet.openai.chat.completions.stream({ model: "chatsrc:m", messages: say("x") }).finalChatCompletion();
    expect(completion.choices[0]).toMatchObject({ message: { content: "Hello" }, finish_reason: "stop" });
    fleet.chatsrc.script = { frames: [chatChunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] }), sse.chat("[DONE]")] };
    const tools = await fleet.openai.chat.completions.stream({ model: "chatsrc:m", messages: say("x") }).finalChatCompletion();
    expect(tools.choices[0]!.finish_reason).toBe("tool_calls");
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage();
    expect(message.stop_reason).toBe("tool_use");
  });

  test("tool calls without ids in a whole answer get unique ids in every client protocol", async () => {
    fleet.chatsrc.script = {
      json: { id: "c", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ type: "function", function: { name: "f", arguments: "{}" } }, { type: "function", function: { name: "g", arguments: "{}" } }] }, finish_reason: "tool_calls" }] },
    };
    const message = await fleet.anthropic.messages.create({ model: "chatsrc:m", max_tokens: 10, messages: say("x") });
    const ids = message.content.map((b) => (b.type === "tool_use" ? b.id : ""));
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^toolu_[a-zA-Z0-9_-]+$/);
    const response = await fleet.openai.responses.create({ model: "chatsrc:m", input: "x" });
    const callIds = response.output.map((o) => (o.type === "function_call" ? o.call_id : ""));
    expect(new Set(callIds).size).toBe(2);
    expect(callIds).not.toContain("");
  });

  test("interleaved argument fragments of two calls end the stream with an error, never a corrupt call", async () => {
    fleet.chatsrc.script = {
      frames: [
        chatChunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: '{"a":' } }, { index: 1, id: "call_b", type: "function", function: { name: "g", arguments: '{"b":' } }] }),
        chatChunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
        chatChunk({ tool_calls: [{ index: 1, function: { arguments: "2}" } }] }),
        chatChunk({}, "tool_calls"),
        sse.chat("[DONE]"),
      ],
    };
    const error = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage().catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toContain("interleaved");
  });

  test("a second call with neither id nor index is its own call", async () => {
    fleet.chatsrc.script = {
      frames: [chatChunk({ tool_calls: [{ type: "function", function: { name: "get_w", arguments: { city: "Paris" } } }] }), chatChunk({ tool_calls: [{ type: "function", function: { name: "get_t", arguments: "" } }] }), chatChunk({}, "stop"), sse.chat("[DONE]")],
    };
    const message = await fleet.anthropic.messages.stream({ model: "chatsrc:m", max_tokens: 10, messages: say("x") }).finalMessage();
    expect(message.content.map((b) => (b.type === "tool_use" ? [b.name, b.input] : []))).toEqual([
      ["get_w", { city: "Paris" }],
      ["get_t", {}],
    ]);
  });

  test("a conversation that is empty once translated gets a 400, never an empty request to the source", async () => {
    for (const body of [
      { model: "msgsrc:m", messages: [{ role: "user", content: null }] },
      { model: "msgsrc:m", messages: [{ role: "user", content: "   " }] },
    ]) {
      const res = await post("/v1/chat/completions", body);
      expect(res.status).toBe(400);
    }
    expect((await post("/v1/responses", { model: "msgsrc:m", input: [] })).status).toBe(400);
    expect(fleet.msgsrc.requests().filter((j) => j.method === "POST")).toHaveLength(0);
  });

  test("tool results given as JSON objects are sent as their JSON text; a string image_url is read; a URL document to Chat is refused by name", async () => {
    await fleet.openai.responses.create({ model: "msgsrc:m", input: [{ type: "function_call", call_id: "c1", name: "f", arguments: "{}" }, { type: "function_call_output", call_id: "c1", output: { a: 1 } as never }] });
    const result = (fleet.sent(fleet.msgsrc).messages as { content: { type: string; content?: { text: string }[] }[] }[]).flatMap((m) => m.content).find((b) => b.type === "tool_result");
    expect(result?.content?.[0]?.text).toBe('{"a":1}');
    await post("/v1/chat/completions", { model: "msgsrc:m", messages: [{ role: "user", content: [{ type: "image_url", image_url: "https://example.com/y.png" }, { type: "text", text: "?" }] }] });
    expect(JSON.stringify(fleet.sent(fleet.msgsrc).messages)).toContain('"url":"https://example.com/y.png"');
    const doc = await post("/v1/messages", { model: "chatsrc:m", max_tokens: 10, messages: [{ role: "user", content: [{ type: "document", source: { type: "url", url: "https://example.com/a.pdf" } }, { type: "text", text: "?" }] }] });
    expect(doc.status).toBe(400);
    expect(await doc.text()).toContain("document given by URL");
  });

  test("a history ending in reasoning a Chat model does not take ends with the last real turn, not an empty assistant turn", async () => {
    await fleet.openai.responses.create({ model: "chatsrc:m", input: [{ role: "user", content: "x" }, { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "thinking" }] } as never] });
    const messages = fleet.sent(fleet.chatsrc).messages as { role: string }[];
    expect(messages.at(-1)!.role).toBe("user");
  });

  test("an unknown entry of the models list is a 400 even when it stands alone", async () => {
    const res = await post("/v1/chat/completions", { messages: say("x"), models: ["nope"] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_models");
  });

  test("a declared body far over the limit gets a JSON 413 in the route's shape, not a bare one", async () => {
    const url = new URL(fleet.bitrouter.url);
    const text = await new Promise<string>((resolve) => {
      let out = "";
      const socket = require("node:net").connect(Number(url.port), url.hostname, () => socket.write("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{"));
      socket.on("data", (d: Buffer) => (out += d.toString()));
      socket.on("close", () => resolve(out));
      socket.on("error", () => resolve(out));
      setTimeout(() => socket.destroy(), 3000);
    });
    expect(text).toStartWith("HTTP/1.1 413");
    expect(text).toContain('"type":"error"');
    expect(text).toContain("x-bitrouter-request-id");
  });
});
