// One fake source per wire protocol (chatsrc, msgsrc, respsrc), each serving model `m` (and
// `thinker`, declared to reason), BitRouter in front of them with debug logging, and the
// official clients aimed at it. For tests that replay what real sources send: set
// `fleet.<source>.script` to the exact frames or body, and read what each source received
// from its journal. Registers its own hooks; every fake is reset before each test.
import { afterAll, beforeAll, beforeEach, expect } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type RunningBitRouter, startBitRouter } from "./bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "./fake-upstream.ts";
import { PER_REQUEST_FAILOVER } from "./config.ts";

export interface ProtocolFleet {
  chatsrc: FakeUpstream;
  msgsrc: FakeUpstream;
  respsrc: FakeUpstream;
  bitrouter: RunningBitRouter;
  openai: OpenAI;
  anthropic: Anthropic;
  /** The body the source received on its inference route, last request first. */
  sent(source: FakeUpstream): Record<string, unknown>;
}

export type SourceName = "chatsrc" | "msgsrc" | "respsrc";
export const SOURCES: SourceName[] = ["chatsrc", "msgsrc", "respsrc"];

export function useProtocolFleet(extraConfig = ""): ProtocolFleet {
  const fleet = {} as ProtocolFleet;
  beforeAll(async () => {
    fleet.chatsrc = await startFakeUpstream("chatsrc");
    fleet.msgsrc = await startFakeUpstream("msgsrc");
    fleet.respsrc = await startFakeUpstream("respsrc");
    fleet.bitrouter = await startBitRouter({
      config: `
${PER_REQUEST_FAILOVER}server:
  keepalive_secs: 1
  log_level: debug
upstream:
  timeouts:
    read_secs: 3
providers:
  chatsrc:
    api_base: ${fleet.chatsrc.baseUrl}
    models: [{ id: m }, { id: thinker, capabilities: [reasoning] }]
  msgsrc:
    api_base: ${fleet.msgsrc.baseUrl}
    api_key: sk-ant-source-key
    api_protocol: messages
    models: [{ id: m }, { id: thinker, capabilities: [reasoning] }]
  respsrc:
    api_base: ${fleet.respsrc.baseUrl}
    api_key: sk-resp-source-key
    api_protocol: responses
    models: [{ id: m }, { id: thinker, capabilities: [reasoning] }]
models:
  messages-then-chat:
    endpoints:
      - { provider: msgsrc, service_id: m }
      - { provider: chatsrc, service_id: m }
${extraConfig}`,
    });
    fleet.openai = new OpenAI({ apiKey: "client-key", baseURL: `${fleet.bitrouter.url}/v1`, maxRetries: 0 });
    fleet.anthropic = new Anthropic({ apiKey: "client-key", baseURL: fleet.bitrouter.url, maxRetries: 0 });
    fleet.sent = (source) => {
      const entry = source.journal.filter((j) => j.method === "POST" && !j.path.endsWith("count_tokens")).at(-1);
      if (!entry?.json) throw new Error(`${source.name} received no JSON request`);
      return entry.json;
    };
  });
  afterAll(async () => {
    expect(await fleet.bitrouter.stop()).toBe(0);
    for (const f of [fleet.chatsrc, fleet.msgsrc, fleet.respsrc]) f.stop();
  });
  beforeEach(() => {
    for (const f of [fleet.chatsrc, fleet.msgsrc, fleet.respsrc]) f.reset();
  });
  return fleet;
}

/** SSE frames as a source writes them. */
export const sse = {
  chat: (chunk: unknown) => `data: ${typeof chunk === "string" ? chunk : JSON.stringify(chunk)}\n\n`,
  named: (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`,
};

/** A Chat chunk with one choice. */
export function chatChunk(delta: object, finish: string | null = null, extra: object = {}): string {
  return sse.chat({ id: "chatcmpl-src", object: "chat.completion.chunk", created: 1700000000, model: "m", choices: [{ index: 0, delta, finish_reason: finish }], ...extra });
}

/** A whole Messages stream around the given content-block events. */
export function messagesFrames(blocks: string[], stop: string, usage: object = { output_tokens: 5 }, startUsage: object = { input_tokens: 10, output_tokens: 1 }): string[] {
  return [
    sse.named("message_start", { message: { id: "msg_src", type: "message", role: "assistant", model: "m", content: [], stop_reason: null, stop_sequence: null, usage: startUsage } }),
    ...blocks,
    sse.named("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage }),
    sse.named("message_stop", {}),
  ];
}

/** A Messages text block at `index`. */
export function messagesText(index: number, text: string): string[] {
  return [
    sse.named("content_block_start", { index, content_block: { type: "text", text: "" } }),
    sse.named("content_block_delta", { index, delta: { type: "text_delta", text } }),
    sse.named("content_block_stop", { index }),
  ];
}

/** A Messages tool_use block at `index`, its arguments streamed in the given pieces. */
export function messagesToolUse(index: number, id: string, name: string, pieces: string[]): string[] {
  return [
    sse.named("content_block_start", { index, content_block: { type: "tool_use", id, name, input: {} } }),
    ...pieces.map((partial_json) => sse.named("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } })),
    sse.named("content_block_stop", { index }),
  ];
}

/** A whole Responses stream: the given output items (text or function calls), then the terminal event. */
export function responsesFrames(items: ({ text: string } | { call_id: string; name: string; pieces: string[] })[], terminal: { status?: string; usage?: object; incomplete?: object } = {}): string[] {
  let seq = 0;
  const ev = (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...payload })}\n\n`;
  const base = { id: "resp_src", object: "response", created_at: 1700000000, model: "m" };
  const frames = [ev("response.created", { response: { ...base, status: "in_progress", output: [] } })];
  const output: object[] = [];
  items.forEach((item, i) => {
    if ("text" in item) {
      const full = { id: `msg_${i}`, type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: item.text, annotations: [] }] };
      frames.push(ev("response.output_item.added", { output_index: i, item: { ...full, status: "in_progress", content: [] } }));
      frames.push(ev("response.output_text.delta", { item_id: `msg_${i}`, output_index: i, content_index: 0, delta: item.text }));
      frames.push(ev("response.output_item.done", { output_index: i, item: full }));
      output.push(full);
    } else {
      const full = { id: `fc_${i}`, type: "function_call", status: "completed", call_id: item.call_id, name: item.name, arguments: item.pieces.join("") };
      frames.push(ev("response.output_item.added", { output_index: i, item: { ...full, status: "in_progress", arguments: "" } }));
      for (const delta of item.pieces) frames.push(ev("response.function_call_arguments.delta", { item_id: `fc_${i}`, output_index: i, delta }));
      frames.push(ev("response.output_item.done", { output_index: i, item: full }));
      output.push(full);
    }
  });
  const status = terminal.status ?? "completed";
  frames.push(ev(`response.${status}`, { response: { ...base, status, output, usage: terminal.usage ?? { input_tokens: 5, output_tokens: 3 }, incomplete_details: terminal.incomplete ?? null } }));
  return frames;
}
