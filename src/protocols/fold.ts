// A stream folded back into one whole answer, for sources that answer only streams (the Codex
// backend) when the client asked for JSON. A stream encoder that writes nothing and keeps score.
import { toolCallId } from "./chat-completions/codec.ts";
import type { Part, Response, StopReason, StreamEncoder, Usage } from "./ir.ts";

export interface FoldingEncoder extends StreamEncoder {
  result(): Response;
}

export function foldingEncoder(id: string): FoldingEncoder {
  const content: Part[] = [];
  const calls = new Map<number, Extract<Part, { type: "tool_call" }>>();
  let finish: StopReason = "stop";
  let usage: Usage | null = null;
  const append = (type: "text" | "reasoning" | "refusal", text: string) => {
    const last = content.at(-1);
    if (last?.type === type) last.text += text;
    else content.push({ type, text } as Part);
  };
  return {
    encode(event) {
      switch (event.type) {
        case "text":
        case "reasoning":
        case "refusal":
          if (event.text) append(event.type, event.text);
          break;
        case "tool_call": {
          let call = calls.get(event.index);
          if (!call) {
            call = { type: "tool_call", id: event.id ?? toolCallId(id, event.index), name: event.name ?? "", arguments: "" };
            calls.set(event.index, call);
            content.push(call);
          }
          call.arguments += event.arguments;
          break;
        }
      }
      return "";
    },
    close(reason, total) {
      finish = reason;
      usage = total;
      return "";
    },
    fail() {
      return "";
    },
    result() {
      return { id, content, stopReason: finish, usage };
    },
  };
}
