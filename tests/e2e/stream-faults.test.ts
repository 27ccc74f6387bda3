// Failures after the first token (SPEC §8): the stream is the client's, so it must end with
// Chat's error frame, never a silently truncated "success". And the client going away must
// stop the upstream at once.
import { describe, expect, test } from "bun:test";
import { APIError } from "openai";
import { chatBody } from "../support/config.ts";
import { useFleet } from "../support/fleet.ts";

const fleet = useFleet();

async function rawStream(content: string, model = "smart"): Promise<string> {
  const response = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody(model, { stream: true }, content) });
  expect(response.status).toBe(200);
  return response.text();
}

function lastFrames(text: string): string[] {
  return text.trim().split("\n\n").slice(-2);
}

describe("a failure after the first token ends with the error frame", () => {
  test.each([
    ["the connection is cut (clean close, no terminator)", "#fake:cut-after:2", "stream_interrupted"],
    ["the connection is reset", "#fake:reset-after:2", "stream_interrupted"],
    ["the stream ends without its finish reason", "#fake:end-after:2", "stream_interrupted"],
    ["a malformed chunk arrives", "#fake:malformed-after:2", "stream_interrupted"],
    ["the source sends an in-band error", "#fake:error-after:2", "stream_interrupted"],
    ["the source stalls past read_secs", "#fake:stall-after:2", "upstream_timeout"],
  ])("when %s", async (_what, marker, code) => {
    const text = await rawStream(marker);
    // What was committed reached the client…
    expect(text).toContain('"content":"Hello"');
    expect(text).toContain('"content":" from "');
    // …then the error frame and [DONE]: never a clean, truncated end.
    const [error, done] = lastFrames(text);
    expect(done).toBe("data: [DONE]");
    const frame = JSON.parse(error!.slice("data: ".length)) as { error: { code: string; type: string; message: string } };
    expect(frame.error.code).toBe(code);
    expect(frame.error.type).toBe("upstream_error");
    // The stream was committed to ollama: no failover after the first token.
    expect(fleet.openrouter.journal).toHaveLength(0);
  });

  test("the in-band error's message is carried to the client", async () => {
    const text = await rawStream("#fake:error-after:1");
    expect(text).toContain("the GPU fell over");
  });

  test("the openai SDK raises it as an APIError instead of returning partial text", async () => {
    const stream = fleet.client.chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "#fake:cut-after:2" }] });
    const error = await stream.finalChatCompletion().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(String((error as APIError).message)).toContain("the stream failed after it started");
  });

  test("the process keeps serving after every fault", async () => {
    const completion = await fleet.client.chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "hi" }] }).finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe("Hello from ollama.");
  });
});

describe("long silences and client disconnects", () => {
  test("keep-alive comments fill a slow first token, and the stream still completes", async () => {
    const started = performance.now();
    // keepalive_secs is 1 and read_secs 2: a 1.5 s wait for the first token is a long silence,
    // not a dead source.
    const text = await rawStream("#fake:slow-first-token:1500", "ollama:llama3.1");
    expect(performance.now() - started).toBeGreaterThan(1400);
    expect(text).toContain(": keep-alive\n\n");
    expect(text).toContain('"content":"Hello"');
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
  });

  test("a client disconnect closes the upstream connection within a second", async () => {
    const controller = new AbortController();
    const response = await fetch(`${fleet.bitrouter.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody("ollama:llama3.1", { stream: true }, "#fake:endless"),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let seen = "";
    while (!seen.includes("tick3")) seen += new TextDecoder().decode((await reader.read()).value);
    const connection = fleet.ollama.requests("/v1/chat/completions").at(-1)!.connection;
    expect(connection.closedAt).toBeUndefined();
    const abortedAt = performance.now();
    controller.abort();
    while (connection.closedAt === undefined && performance.now() - abortedAt < 1000) await Bun.sleep(10);
    expect(connection.closedAt).toBeDefined();
    expect(connection.closedAt! - abortedAt).toBeLessThan(1000);
  });
});
