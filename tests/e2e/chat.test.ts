// Chat Completions through BitRouter to Chat Completions sources: routing, byte-exact
// relaying, usage, headers, judged by the openai SDK's strict stream helper.
import { describe, expect, test } from "bun:test";
import { chatBody, OPENROUTER_KEY } from "../support/config.ts";
import { useFleet } from "../support/fleet.ts";

const fleet = useFleet();

describe("routing", () => {
  test("ollama:llama3.1 streams from ollama; the strict helper accepts the stream", async () => {
    const stream = fleet.client.chat.completions.stream({ model: "ollama:llama3.1", messages: [{ role: "user", content: "hi" }] });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe("Hello from ollama.");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.model).toBe("ollama:llama3.1");
    expect(fleet.openrouter.journal).toHaveLength(0);
    const sent = fleet.ollama.requests("/v1/chat/completions")[0]!;
    expect(sent.json).toMatchObject({ model: "llama3.1", stream: true, stream_options: { include_usage: true } });
    // A keyless source gets no credential, and never the client's.
    expect(sent.headers.authorization).toBeUndefined();
  });

  test("a bare name is served by the source that declares it", async () => {
    const { data, response } = await fleet.client.chat.completions.create({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe("Hello from ollama.");
    expect(data.model).toBe("llama3.1");
    expect(response.headers.get("x-bitrouter-provider")).toBe("ollama");
    expect(response.headers.get("x-bitrouter-model")).toBe("llama3.1");
    expect(response.headers.get("x-bitrouter-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("openrouter:openai/gpt-4o goes to openrouter with its key, not the client's", async () => {
    const completion = await fleet.client.chat.completions.stream({ model: "openrouter:openai/gpt-4o", messages: [{ role: "user", content: "hi" }] }).finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    const sent = fleet.openrouter.requests("/v1/chat/completions")[0]!;
    expect(sent.headers.authorization).toBe(`Bearer ${OPENROUTER_KEY}`);
    expect(sent.json?.model).toBe("openai/gpt-4o");
    expect(JSON.stringify(sent.headers)).not.toContain("sk-client-secret");
    expect(fleet.ollama.journal).toHaveLength(0);
  });

  test("the virtual model is served by its first endpoint when it is healthy", async () => {
    const completion = await fleet.client.chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "hi" }] }).finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe("Hello from ollama.");
    expect(completion.model).toBe("smart");
    expect(fleet.openrouter.journal).toHaveLength(0);
  });

  test("the body's `models` list is a fallback chain and never reaches the source", async () => {
    fleet.ollama.mode = "status:503";
    const completion = await fleet.client.chat.completions.create({ model: "llama3.1", messages: [{ role: "user", content: "hi" }], models: ["openrouter:openai/gpt-4o"] } as never);
    expect(completion.choices[0]?.message.content).toBe("Hello from openrouter.");
    expect(fleet.openrouter.journal[0]?.json).not.toHaveProperty("models");
  });
});

describe("streams relayed byte for byte", () => {
  test("parallel tool calls with streamed arguments arrive whole", async () => {
    const completion = await fleet.client.chat.completions
      .stream({ model: "ollama:llama3.1", messages: [{ role: "user", content: "weather and time? #fake:tools" }] })
      .finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.tool_calls?.map((c) => [c.id, c.type === "function" ? c.function.name : "", c.type === "function" ? c.function.arguments : ""])).toEqual([
      ["call_weather", "get_weather", '{"city":"Paris"}'],
      ["call_time", "get_time", '{"tz":"Europe/Paris"}'],
    ]);
  });

  test("usage reaches a client that asked for it, in the usage-only chunk", async () => {
    const completion = await fleet.client.chat.completions
      .stream({ model: "llama3.1", messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } })
      .finalChatCompletion();
    expect(completion.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
  });

  test("a client that did not ask never gets a usage-only chunk", async () => {
    const response = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("llama3.1", { stream: true }) });
    const text = await response.text();
    expect(text).not.toContain('"choices":[]');
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    // Chat streams never gain `event:` lines (openai v4 would break on them).
    expect(text).not.toContain("event:");
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
  });

  test("only `model` is patched: every other byte of a chunk is the source's", async () => {
    const response = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("smart", { stream: true }) });
    const first = (await response.text()).split("\n\n")[0];
    expect(first).toBe(
      'data: {"id":"chatcmpl-ollama-1","object":"chat.completion.chunk","created":1700000000,"model":"smart","system_fingerprint":"fp_fake","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}',
    );
  });

  test("CRLF framing and events split mid-character across writes come through intact", async () => {
    const crlf = await fleet.client.chat.completions.stream({ model: "llama3.1", messages: [{ role: "user", content: "#fake:crlf" }] }).finalChatCompletion();
    expect(crlf.choices[0]?.message.content).toBe("Hello from ollama.");
    const split = await fleet.client.chat.completions.stream({ model: "llama3.1", messages: [{ role: "user", content: "#fake:split" }] }).finalChatCompletion();
    expect(split.choices[0]?.message.content).toBe("héllo wörld ✓ from ollama.");
  });

  test("a stream that ends cleanly without [DONE] gets one", async () => {
    const response = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody("llama3.1", { stream: true }, "#fake:no-done") });
    const text = await response.text();
    expect(text.match(/data: \[DONE\]/g)).toHaveLength(1);
    expect(text).toContain('"finish_reason":"stop"');
  });
});
