// Every client protocol × every source protocol, judged by the official clients' strict
// helpers: openai chat.completions.stream().finalChatCompletion() and
// responses.stream().finalResponse() (status must be "completed"), @anthropic-ai/sdk
// messages.stream().finalMessage(), and the Vercel AI SDK's streamText with no error parts.
// Streaming and not, plain text and parallel tool calls: exact text, tool arguments, stop
// reason and usage. Gemini clients: @google/genai's generateContent / generateContentStream
// (which throws on an error chunk) and the AI SDK's Google provider.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { FinishReason, GoogleGenAI } from "@google/genai";
import Anthropic from "@anthropic-ai/sdk";
import { type LanguageModel, jsonSchema, streamText, tool } from "ai";
import OpenAI from "openai";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";

const SOURCES = { chatsrc: "chat_completions", msgsrc: "messages", respsrc: "responses", gemsrc: "generate_content" } as const;
type SourceId = keyof typeof SOURCES;
const fakes = {} as Record<SourceId, FakeUpstream>;
let bitrouter: RunningBitRouter;

beforeAll(async () => {
  for (const id of Object.keys(SOURCES) as SourceId[]) fakes[id] = await startFakeUpstream(id);
  const providers = (Object.entries(SOURCES) as [SourceId, string][])
    .map(([id, protocol]) => `  ${id}:\n    api_base: ${fakes[id].baseUrl}\n    api_key: key-for-${id}\n    api_protocol: ${protocol}\n    models: [{ id: m }]\n`)
    .join("");
  bitrouter = await startBitRouter({ config: `providers:\n${providers}` });
});
afterAll(async () => {
  expect(await bitrouter.stop()).toBe(0);
  for (const fake of Object.values(fakes)) fake.stop();
});

interface Outcome {
  text: string;
  toolCalls: { name: string; args: unknown }[];
  finish: "stop" | "tool_calls" | "length" | "other";
  usage: { input: number; output: number };
}

const WEATHER_TOOLS = {
  get_weather: { description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
  get_time: { description: "Time in a zone", parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] } },
} as const;

type ClientKind = "openai-chat" | "openai-responses" | "anthropic" | "genai" | "ai-chat" | "ai-responses" | "ai-anthropic" | "ai-google";

async function ask(client: ClientKind, model: string, prompt: string, stream: boolean, tools: boolean): Promise<Outcome> {
  const url = bitrouter.url;
  switch (client) {
    case "openai-chat": {
      const openai = new OpenAI({ apiKey: "client-key", baseURL: `${url}/v1`, maxRetries: 0 });
      const body = {
        model,
        messages: [{ role: "user" as const, content: prompt }],
        ...(tools ? { tools: Object.entries(WEATHER_TOOLS).map(([name, t]) => ({ type: "function" as const, function: { name, description: t.description, parameters: t.parameters } })) } : {}),
      };
      const completion = stream
        ? await openai.chat.completions.stream({ ...body, stream_options: { include_usage: true } }).finalChatCompletion()
        : await openai.chat.completions.create(body);
      const choice = completion.choices[0]!;
      return {
        text: choice.message.content ?? "",
        toolCalls: (choice.message.tool_calls ?? []).map((c) => (c.type === "function" ? { name: c.function.name, args: JSON.parse(c.function.arguments) } : { name: "?", args: null })),
        finish: choice.finish_reason === "tool_calls" ? "tool_calls" : choice.finish_reason === "stop" ? "stop" : choice.finish_reason === "length" ? "length" : "other",
        usage: { input: completion.usage?.prompt_tokens ?? -1, output: completion.usage?.completion_tokens ?? -1 },
      };
    }
    case "openai-responses": {
      const openai = new OpenAI({ apiKey: "client-key", baseURL: `${url}/v1`, maxRetries: 0 });
      const body = {
        model,
        input: prompt,
        ...(tools ? { tools: Object.entries(WEATHER_TOOLS).map(([name, t]) => ({ type: "function" as const, name, description: t.description, parameters: t.parameters, strict: false })) } : {}),
      };
      const response = stream ? await openai.responses.stream(body).finalResponse() : await openai.responses.create(body);
      expect(response.status).toBe("completed");
      const output = response.output as OpenAI.Responses.ResponseOutputItem[];
      const calls = output.filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
      return {
        text: response.output_text,
        toolCalls: calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) })),
        finish: calls.length > 0 ? "tool_calls" : "stop",
        usage: { input: response.usage?.input_tokens ?? -1, output: response.usage?.output_tokens ?? -1 },
      };
    }
    case "anthropic": {
      const anthropic = new Anthropic({ apiKey: "client-key", baseURL: url, maxRetries: 0 });
      const body = {
        model,
        max_tokens: 256,
        messages: [{ role: "user" as const, content: prompt }],
        ...(tools ? { tools: Object.entries(WEATHER_TOOLS).map(([name, t]) => ({ name, description: t.description, input_schema: t.parameters as unknown as Anthropic.Tool.InputSchema })) } : {}),
      };
      const message = stream ? await anthropic.messages.stream(body).finalMessage() : await anthropic.messages.create(body);
      return {
        text: message.content.map((b) => (b.type === "text" ? b.text : "")).join(""),
        toolCalls: message.content.filter((b) => b.type === "tool_use").map((b) => ({ name: b.name, args: b.input })),
        finish: message.stop_reason === "tool_use" ? "tool_calls" : message.stop_reason === "end_turn" ? "stop" : message.stop_reason === "max_tokens" ? "length" : "other",
        usage: { input: message.usage.input_tokens, output: message.usage.output_tokens },
      };
    }
    case "genai": {
      const genai = new GoogleGenAI({ apiKey: "client-key", httpOptions: { baseUrl: url } });
      const request = {
        model,
        contents: prompt,
        config: tools ? { tools: [{ functionDeclarations: Object.entries(WEATHER_TOOLS).map(([name, t]) => ({ name, description: t.description, parametersJsonSchema: t.parameters })) }] } : {},
      };
      let text = "";
      const toolCalls: { name: string; args: unknown }[] = [];
      let finish: string | undefined;
      let usage = { input: -1, output: -1 };
      const take = (chunk: Awaited<ReturnType<typeof genai.models.generateContent>>) => {
        text += chunk.text ?? "";
        for (const call of chunk.functionCalls ?? []) toolCalls.push({ name: call.name ?? "?", args: call.args });
        finish = chunk.candidates?.[0]?.finishReason ?? finish;
        if (chunk.usageMetadata) usage = { input: chunk.usageMetadata.promptTokenCount ?? -1, output: (chunk.usageMetadata.candidatesTokenCount ?? 0) + (chunk.usageMetadata.thoughtsTokenCount ?? 0) };
      };
      if (stream) for await (const chunk of await genai.models.generateContentStream(request)) take(chunk);
      else take(await genai.models.generateContent(request));
      // Gemini has no tool-call stop: a STOP with calls is one.
      return { text, toolCalls, finish: finish === FinishReason.STOP ? (toolCalls.length > 0 ? "tool_calls" : "stop") : finish === FinishReason.MAX_TOKENS ? "length" : "other", usage };
    }
    default: {
      const languageModel: LanguageModel =
        client === "ai-chat"
          ? createOpenAICompatible({ name: "bitrouter", baseURL: `${url}/v1`, apiKey: "client-key", includeUsage: true }).chatModel(model)
          : client === "ai-responses"
            ? createOpenAI({ baseURL: `${url}/v1`, apiKey: "client-key" }).responses(model)
            : client === "ai-google"
              ? createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey: "client-key" })(model)
              : createAnthropic({ baseURL: `${url}/v1`, apiKey: "client-key" })(model);
      const result = streamText({
        model: languageModel,
        prompt,
        maxRetries: 0,
        ...(tools
          ? { tools: Object.fromEntries(Object.entries(WEATHER_TOOLS).map(([name, t]) => [name, tool({ description: t.description, inputSchema: jsonSchema(t.parameters as never) })])) }
          : {}),
      });
      const errors: unknown[] = [];
      const toolCalls: { name: string; args: unknown }[] = [];
      let text = "";
      let finish = "other";
      let usage = { input: -1, output: -1 };
      for await (const part of result.fullStream) {
        if (part.type === "error") errors.push(part.error);
        if (part.type === "text-delta") text += part.text;
        if (part.type === "tool-call") toolCalls.push({ name: part.toolName, args: part.input });
        if (part.type === "finish") {
          finish = part.finishReason;
          usage = { input: part.totalUsage.inputTokens ?? -1, output: part.totalUsage.outputTokens ?? -1 };
        }
      }
      expect(errors).toEqual([]);
      return { text, toolCalls, finish: finish === "tool-calls" ? "tool_calls" : finish === "stop" ? "stop" : finish === "length" ? "length" : "other", usage };
    }
  }
}

const CLIENTS: ClientKind[] = ["openai-chat", "openai-responses", "anthropic", "genai", "ai-chat", "ai-responses", "ai-anthropic", "ai-google"];
const STREAMING_ONLY: ClientKind[] = ["ai-chat", "ai-responses", "ai-anthropic", "ai-google"];

for (const client of CLIENTS) {
  describe(client, () => {
    for (const source of Object.keys(SOURCES) as SourceId[]) {
      for (const stream of STREAMING_ONLY.includes(client) ? [true] : [true, false]) {
        const mode = stream ? "stream" : "json";
        test(`${source} (${SOURCES[source]}), ${mode}: text, stop reason, usage`, async () => {
          const outcome = await ask(client, `${source}:m`, "Say hello", stream, false);
          expect(outcome).toEqual({ text: `Hello from ${source}.`, toolCalls: [], finish: "stop", usage: { input: 11, output: 7 } });
          expect(fakes[source].journal.at(-1)?.path).toBe(
            { chat_completions: "/v1/chat/completions", messages: "/v1/messages", responses: "/v1/responses", generate_content: `/v1/models/m:${stream ? "streamGenerateContent" : "generateContent"}` }[SOURCES[source]],
          );
        });
        test(`${source} (${SOURCES[source]}), ${mode}: parallel tool calls`, async () => {
          const outcome = await ask(client, `${source}:m`, "Weather and time in Paris? #fake:tools", stream, true);
          expect(outcome.toolCalls).toEqual([
            { name: "get_weather", args: { city: "Paris" } },
            { name: "get_time", args: { tz: "Europe/Paris" } },
          ]);
          expect(outcome.finish).toBe("tool_calls");
          expect(outcome.usage).toEqual({ input: 11, output: 7 });
        });
      }
    }
  });
}
