export {};

// The benchmark's model source: a minimal Chat Completions server (Bun.serve). The last user
// message picks the shape: `bench:paced:N:MS` (N chunks, MS apart, each stamped with its send
// time in `x_t`), `bench:burst:N` (N chunks as fast as the reader takes them), `bench:hold:MS`
// (one token, then an open stream for MS). Anything else: a small non-streaming completion.
const port = Number(process.argv[2] ?? 0);
const encoder = new TextEncoder();
const now = () => performance.timeOrigin + performance.now();

const COMPLETION = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1700000000,
  model: "bench-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello from the benchmark." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 },
});

function frame(content: string | null, finish: string | null, stamp = false): Uint8Array {
  const delta = content === null ? {} : { content };
  const chunk = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1700000000, model: "bench-model", choices: [{ index: 0, delta, finish_reason: finish }], ...(stamp ? { x_t: now() } : {}) };
  return encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`);
}
const DONE = encoder.encode("data: [DONE]\n\n");
const BURST_FRAME = frame("token ", null);

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  idleTimeout: 0,
  async fetch(request) {
    const body = (await request.json()) as { stream?: boolean; messages?: { content?: string }[] };
    const marker = String(body.messages?.at(-1)?.content ?? "");
    if (!body.stream) return new Response(COMPLETION, { headers: { "content-type": "application/json" } });
    const [, kind, a, b] = marker.split(":");
    const headers = { "content-type": "text/event-stream", "cache-control": "no-cache" };
    if (kind === "paced") {
      const n = Number(a);
      const gap = Number(b);
      return new Response(
        new ReadableStream({
          async start(c) {
            for (let i = 0; i < n; i++) {
              c.enqueue(frame(`t${i} `, null, true));
              await Bun.sleep(gap);
            }
            c.enqueue(frame(null, "stop"));
            c.enqueue(DONE);
            c.close();
          },
        }),
        { headers },
      );
    }
    if (kind === "burst") {
      let left = Number(a);
      return new Response(
        new ReadableStream({
          pull(c) {
            for (let i = 0; i < 64 && left > 0; i++, left--) c.enqueue(BURST_FRAME);
            if (left === 0) {
              c.enqueue(frame(null, "stop"));
              c.enqueue(DONE);
              c.close();
            }
          },
        }),
        { headers },
      );
    }
    if (kind === "hold") {
      const ms = Number(a);
      return new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(frame("first ", null));
            await Bun.sleep(ms);
            c.enqueue(frame(null, "stop"));
            c.enqueue(DONE);
            c.close();
          },
          cancel() {},
        }),
        { headers },
      );
    }
    return new Response(new ReadableStream({ start(c) { c.enqueue(frame("Hello", null)); c.enqueue(frame(null, "stop")); c.enqueue(DONE); c.close(); } }), { headers });
  },
});
console.log(`ready ${server.port}`);
