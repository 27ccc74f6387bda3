export {};

// The floor any Bun gateway can reach on this machine: Bun.serve + fetch, body piped, nothing
// else (SPEC §12). Arguments: listen port, upstream origin.
const port = Number(process.argv[2] ?? 0);
const upstream = process.argv[3] ?? "http://127.0.0.1:1";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  idleTimeout: 0,
  async fetch(request) {
    const url = new URL(request.url);
    const response = await fetch(upstream + url.pathname, {
      method: request.method,
      headers: { "content-type": "application/json" },
      body: await request.text(),
      signal: request.signal,
    });
    return new Response(response.body, { status: response.status, headers: { "content-type": response.headers.get("content-type") ?? "application/json" } });
  },
});
console.log(`ready ${server.port}`);
