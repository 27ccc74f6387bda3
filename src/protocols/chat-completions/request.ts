// Chat Completions request handling: read the fields routing needs, and shape the body sent
// to a Chat Completions source (only `model` and our extensions change).
import { z } from "zod";
import { badRequest } from "../../errors.ts";
import type { Candidate } from "../../routing/resolve.ts";

/** Only what routing needs is checked; every other field passes through untouched. */
export const chatRequestSchema = z.looseObject({
  model: z.string().optional(),
  models: z.array(z.string()).optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  messages: z.array(z.unknown()).min(1, "messages must contain at least one message"),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** The body for a Chat Completions source: upstream model, no `models`, usage always asked for. */
export function chatUpstreamBody(request: ChatRequest, candidate: Candidate): string {
  const body: Record<string, unknown> = { ...request, model: candidate.upstreamModel };
  delete body.models;
  const compat = candidate.model?.compatibility;
  if (request.stream) {
    if (compat?.supports_stream_options === false) delete body.stream_options;
    else body.stream_options = { ...(request.stream_options ?? {}), include_usage: true };
  }
  if (compat?.token_limit_field) {
    const other = compat.token_limit_field === "max_tokens" ? "max_completion_tokens" : "max_tokens";
    if (body[other] !== undefined && body[compat.token_limit_field] === undefined) {
      body[compat.token_limit_field] = body[other];
      delete body[other];
    }
  }
  if (compat?.supports_store === false) {
    if (body.store === true) throw badRequest(`'store: true' is not supported by ${candidate.source.id}/${candidate.upstreamModel}`, "unsupported_parameter", "store");
    delete body.store;
  }
  return JSON.stringify(body);
}
