// The live tail's memory (src/live/feed.ts): a ring of the last requests, oldest first, and a
// bounded set of watchers.
import { describe, expect, test } from "bun:test";
import type { Context } from "hono";
import type { AppEnv } from "../../src/server/app.ts";
import { liveTail } from "../../src/server/routes/dashboard.tsx";
import { createLiveFeed, liveEntry } from "../../src/live/feed.ts";
import type { RequestEvent } from "../../src/request-event.ts";

const event = (n: number, extra: Partial<RequestEvent> = {}): RequestEvent => ({ requestId: `r${n}`, at: n, protocol: "chat_completions", requestedModel: "smart", stream: false, status: 200, attempts: 1, failed: [], durationMs: 5, usage: null, ...extra });

test("keeps the last `capacity` requests, oldest first, and tells each watcher of each new one", () => {
  const feed = createLiveFeed({ capacity: 3, maxWatchers: 1 });
  const seen: string[] = [];
  const unwatch = feed.watch((e) => seen.push(e.id));
  expect(feed.watch(() => {})).toBeNull();
  for (let n = 1; n <= 5; n++) feed.record(event(n));
  expect(feed.recent().map((e) => e.id)).toEqual(["r3", "r4", "r5"]);
  expect(seen).toEqual(["r1", "r2", "r3", "r4", "r5"]);
  unwatch!();
  feed.record(event(6));
  expect(seen).toHaveLength(5);
  expect(feed.watch(() => {})).not.toBeNull();
});

test("an entry: who served, each failover with its reason, the ledger's token buckets", () => {
  const entry = liveEntry(
    event(1, {
      failed: [{ provider: "flaky", model: "m", status: 503, reason: "HTTP 503: overloaded" }, { provider: "gone", status: null }],
      served: { provider: "steady", kind: "api", account: "default", upstreamModel: "m", declared: true },
      usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 60, reasoningTokens: 5 },
      ttftMs: 42,
    }),
  );
  expect(entry.served).toEqual({ provider: "steady", account: "default", model: "m", kind: "api" });
  expect(entry.failovers).toEqual([
    { provider: "flaky", model: "m", account: null, status: 503, reason: "HTTP 503: overloaded" },
    { provider: "gone", model: null, account: null, status: null, reason: "no answer" },
  ]);
  expect(entry.tokens).toEqual({ input: 40, cacheRead: 60, cacheWrite: 0, output: 20, reasoning: 5 });
  expect(entry.ttftMs).toBe(42);
});

describe("GET /bitrouter/live", () => {
  const context = () => ({ env: undefined, req: { raw: new Request("http://127.0.0.1/bitrouter/live") } }) as unknown as Context<AppEnv>;

  test("opens with a comment at once, then the kept entries; a page that stops reading is cut off, not kept", async () => {
    const feed = createLiveFeed({ capacity: 5, maxWatchers: 1 });
    feed.record(event(1));
    const response = liveTail(context(), feed);
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(": live\n\n");
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"id":"r1"');
    expect(feed.watch(() => {})).toBeNull();
    // Nobody reads from here on: past 1 MiB waiting, the watcher is dropped and its slot freed.
    for (let n = 2; n < 6000; n++) feed.record(event(n, { requestedModel: "m".repeat(200) }));
    expect(feed.watch(() => {})).not.toBeNull();
  });

  test("a closing feed ends every stream (a stopping server does not wait for open pages)", async () => {
    const feed = createLiveFeed();
    const response = liveTail(context(), feed);
    feed.close();
    const text = await response.text();
    expect(text.startsWith(": live\n\n")).toBe(true);
  });

  test("past the watcher limit: 503", () => {
    const feed = createLiveFeed({ maxWatchers: 0 });
    expect(() => liveTail(context(), feed)).toThrow("too many pages");
  });
});
