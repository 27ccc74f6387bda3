// OpenAI's error envelope, used by the Chat Completions and Responses routes.
import type { BitRouterError } from "../../errors.ts";
import { dataFrame } from "../../upstream/sse.ts";

export function openAIErrorBody(error: BitRouterError): { error: Record<string, unknown> } {
  return {
    error: {
      message: error.message,
      type: error.type,
      code: error.code ?? null,
      param: error.param ?? null,
      ...(error.attempts ? { attempts: error.attempts } : {}),
    },
  };
}

/** After commit a Chat stream ends with an error chunk, then [DONE] (SPEC §8). */
export function chatErrorFrame(error: BitRouterError): string {
  return dataFrame(JSON.stringify(openAIErrorBody(error))) + dataFrame("[DONE]");
}
