export {};

// The least a router must do, as a reference for BitRouter's CPU per request (issue #14): a Hono
// route that parses the request to read its model, sends it on with a deadline, parses the
// answer for its usage, patches the model and answers. No routing, no ledger, no metrics.
// Arguments: listen port, upstream origin.
import { Hono } from "hono";

const port = Number(process.argv[2] ?? 0);
const upstream = process.argv[3] ?? "http://127.0.0.1:1";

const app = new Hono();
app.post("/v1/chat/completions", async (c) => {
  const body = JSON.parse(await c.req.text()) as { model: string };
  const asked = body.model;
  body.model = "bench-model";
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), 600_000);
  const response = await fetch(`${upstream}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  const text = await response.text();
  clearTimeout(deadline);
  void (JSON.parse(text) as { usage?: unknown }).usage;
  return new Response(text.replace('"model":"bench-model"', `"model":${JSON.stringify(asked)}`), { status: response.status, headers: { "content-type": "application/json" } });
});
const server = Bun.serve({ hostname: "127.0.0.1", port, idleTimeout: 0, fetch: app.fetch });
console.log(`ready ${server.port}`);
