/** @jsxImportSource hono/jsx */
// The dashboard (SPEC §19): GET / and /bitrouter/ui serve one page, its script and its style
// sheet, all embedded in the executable; GET /bitrouter/live streams the live tail. The page and
// its assets hold no data and are served without a key (a browser cannot send a header when it
// opens a URL); the data comes through the API's own auth. A Content-Security-Policy keeps the
// page to this server alone: nothing is fetched from anywhere else.
import type { Context } from "hono";
import { Hono } from "hono";
import { BitRouterError } from "../../errors.ts";
import type { LiveEntry, LiveFeed } from "../../live/feed.ts";
import { VERSION } from "../../version.ts";
import { type AppEnv, disableIdleTimeout } from "../app.ts";
import styles from "../ui/app.css" with { type: "text" };
import script from "../ui/dashboard.client.js" with { type: "text" };
import { DashboardPage } from "../ui/page.tsx";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const PAGE_HEADERS = { "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-cache" };

/** The page and its assets: routes to mount before the API's auth. */
export function dashboardPages(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const page = (c: Context<AppEnv>) => c.html(`<!doctype html>${<DashboardPage version={VERSION} />}`, 200, PAGE_HEADERS);
  routes.get("/", page);
  routes.get("/bitrouter/ui", page);
  routes.get("/bitrouter/ui/client.js", (c) => c.body(script, 200, { ...PAGE_HEADERS, "content-type": "text/javascript; charset=utf-8" }));
  routes.get("/bitrouter/ui/app.css", (c) => c.body(styles, 200, { ...PAGE_HEADERS, "content-type": "text/css; charset=utf-8" }));
  return routes;
}

/** A watcher this far behind (bytes queued and unread) is cut off rather than let grow. */
const MAX_QUEUED_BYTES = 1 << 20;
const KEEPALIVE_MS = 15_000;

/**
 * GET /bitrouter/live: server-sent events, `event: request` with a LiveEntry as `data`, first
 * the kept entries (oldest first), then each request as it finishes. A comment opens the stream
 * at once (a browser's fetch resolves only at the first byte). 503 when too many pages are
 * watching; a page that stops reading is cut off once 1 MiB waits for it.
 */
export function liveTail(c: Context<AppEnv>, feed: LiveFeed): Response {
  disableIdleTimeout(c.env?.server, c.req.raw);
  const encoder = new TextEncoder();
  const frame = (entry: LiveEntry) => encoder.encode(`event: request\ndata: ${JSON.stringify(entry)}\n\n`);
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let keepalive: ReturnType<typeof setInterval> | undefined;
  const end = () => {
    const open = controller;
    cleanup();
    try {
      open?.close();
    } catch {
      // already closed or errored: nothing to end
    }
  };
  const send = (bytes: Uint8Array) => {
    if (!controller) return;
    // desiredSize counts bytes (the size() below): how far the reader is behind.
    if ((controller.desiredSize ?? 0) < -MAX_QUEUED_BYTES) return end();
    controller.enqueue(bytes);
  };
  const unwatch = feed.watch((entry) => send(frame(entry)), end);
  if (!unwatch) throw new BitRouterError(503, "upstream_error", "too many pages are following the live tail; close one and reload", { code: "live_full" });
  const cleanup = () => {
    unwatch();
    clearInterval(keepalive);
    controller = undefined;
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        send(encoder.encode(": live\n\n"));
        for (const entry of feed.recent()) send(frame(entry));
        keepalive = setInterval(() => send(encoder.encode(": keep-alive\n\n")), KEEPALIVE_MS);
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
  );
  c.req.raw.signal.addEventListener("abort", cleanup, { once: true });
  return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" } });
}
