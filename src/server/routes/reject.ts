// Shared by the inference routes: the log line for a request refused before any attempt,
// and a readable message from a zod validation error.
import type { z } from "zod";
import { BitRouterError } from "../../errors.ts";
import type { Logger } from "../../log.ts";

export function logRejected(log: Logger, requestId: string, err: unknown): void {
  const status = err instanceof BitRouterError ? err.status : 500;
  log.info("request rejected", { request_id: requestId, status, error: (err as Error).message });
}

export function zodMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request body";
  const path = issue.path.join(".");
  return `${path ? `${path}: ` : ""}${issue.message.replace(/^Invalid input: /, "")}`;
}
