// Chat Completions in, Chat Completions out: bytes pass straight through with only `model`
// patched. Before commit each event is parsed (there are only a few lifecycle events); after
// commit only cheap string checks run, and JSON is parsed just for the rare usage chunk.
import type { BitRouterError } from "../../errors.ts";
import { dataFrame } from "../../upstream/sse.ts";
import type { StreamRelay, Usage } from "../relay.ts";
import { chatErrorFrame } from "./errors.ts";

export interface ChatPassthroughOptions {
  /** What the client asked for: every chunk's `model` echoes it. */
  requestedModel: string;
  /** The client asked for `stream_options.include_usage`. */
  deliverUsage: boolean;
}

const MODEL_FIELD = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const FINISH_REASON = /"finish_reason"\s*:\s*"/;
const ERROR_FIRST = /^\s*\{\s*"error"\s*:/;

export function chatPassthroughRelay(options: ChatPassthroughOptions): StreamRelay {
  const modelField = `"model":${JSON.stringify(options.requestedModel)}`;
  let out = "";
  let committed = false;
  let finished = false;
  let done = false;
  let failure: string | null = null;
  let usage: Usage | null = null;

  const emit = (block: string) => {
    out += `${block.replace(MODEL_FIELD, modelField)}\n\n`;
  };

  return {
    push(rawBlock) {
      if (done || failure) return;
      const block = rawBlock.includes("event:") ? stripEventLines(rawBlock) : rawBlock;
      const data = dataOf(block);
      if (data === undefined) {
        // A comment (upstream keep-alive): worth passing on only once the stream is the client's.
        if (committed) out += `${block}\n\n`;
        return;
      }
      if (data === "[DONE]") {
        done = true;
        if (!finished && !committed) committed = true;
        out += dataFrame("[DONE]");
        return;
      }
      if (!committed) {
        let chunk: ChatChunk;
        try {
          chunk = JSON.parse(data) as ChatChunk;
        } catch {
          failure = "upstream sent a malformed event";
          return;
        }
        if (chunk.error) {
          failure = `upstream error in stream: ${errorMessage(chunk.error)}`;
          return;
        }
        for (const choice of chunk.choices ?? []) {
          if (hasContent(choice.delta)) committed = true;
          if (choice.finish_reason) finished = committed = true;
        }
        if (chunk.usage) {
          usage = readUsage(chunk.usage);
          if (isUsageOnly(chunk) && !options.deliverUsage) return;
        }
        emit(block);
        return;
      }
      const trimmed = data.trimEnd();
      if (trimmed.charCodeAt(0) !== 123 /* { */ || trimmed.charCodeAt(trimmed.length - 1) !== 125 /* } */) {
        failure = "upstream sent a malformed event";
        return;
      }
      if (ERROR_FIRST.test(data)) {
        failure = `upstream error in stream: ${errorMessage(safeParse(data)?.error)}`;
        return;
      }
      if (!finished && FINISH_REASON.test(data)) finished = true;
      if (USAGE_OBJECT.test(data)) {
        const chunk = safeParse(data);
        if (chunk?.usage) {
          usage = readUsage(chunk.usage);
          if (isUsageOnly(chunk) && !options.deliverUsage) return;
        }
      }
      emit(block);
    },
    end() {
      if (done || failure) return;
      if (finished) {
        done = true;
        out += dataFrame("[DONE]");
      } else {
        failure = committed ? "upstream stream ended before its finish reason" : "upstream stream ended before its first token";
      }
    },
    take() {
      const frames = out;
      out = "";
      return frames;
    },
    get committed() {
      return committed;
    },
    get complete() {
      return done;
    },
    get failure() {
      return failure;
    },
    get usage() {
      return usage;
    },
    errorFrame(error: BitRouterError) {
      return chatErrorFrame(error);
    },
  };
}

interface ChatDelta {
  content?: unknown;
  reasoning_content?: unknown;
  reasoning?: unknown;
  refusal?: unknown;
  tool_calls?: unknown;
}

interface ChatChunk {
  error?: unknown;
  choices?: { delta?: ChatDelta; finish_reason?: string | null }[];
  usage?: Record<string, unknown> | null;
}

function hasContent(delta: ChatDelta | undefined): boolean {
  if (!delta) return false;
  return (
    nonEmpty(delta.content) ||
    nonEmpty(delta.reasoning_content) ||
    nonEmpty(delta.reasoning) ||
    nonEmpty(delta.refusal) ||
    (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
  );
}

function nonEmpty(value: unknown): boolean {
  return typeof value === "string" && value.length > 0;
}

function isUsageOnly(chunk: ChatChunk): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0;
}

/** Chat usage → our reading (prompt tokens include cached ones, completion includes reasoning). */
export function readUsage(usage: Record<string, unknown>): Usage {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const promptDetails = (usage.prompt_tokens_details ?? {}) as Record<string, unknown>;
  const completionDetails = (usage.completion_tokens_details ?? {}) as Record<string, unknown>;
  const result: Usage = { inputTokens: num(usage.prompt_tokens), outputTokens: num(usage.completion_tokens) };
  if (num(promptDetails.cached_tokens) > 0) result.cachedTokens = num(promptDetails.cached_tokens);
  if (num(completionDetails.reasoning_tokens) > 0) result.reasoningTokens = num(completionDetails.reasoning_tokens);
  return result;
}

function dataOf(block: string): string | undefined {
  // Fast path: a single `data: …` line.
  if (block.startsWith("data:") && !block.includes("\n")) return block.charCodeAt(5) === 32 ? block.slice(6) : block.slice(5);
  let data: string | undefined;
  for (const line of block.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

function stripEventLines(block: string): string {
  return block
    .split("\n")
    .filter((line) => !line.startsWith("event:"))
    .join("\n");
}

function safeParse(data: string): ChatChunk | undefined {
  try {
    return JSON.parse(data) as ChatChunk;
  } catch {
    return undefined;
  }
}

export function errorMessage(error: unknown): string {
  if (typeof error === "string") return error.slice(0, 300);
  if (error && typeof error === "object" && "message" in error) return String((error as { message: unknown }).message).slice(0, 300);
  return "unknown error";
}
