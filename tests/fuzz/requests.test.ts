// A seeded request fuzzer (issue #9): valid bodies of all three protocols, mutated in type,
// nesting, size, unicode, encoding and headers, sent to BitRouter (the built binary in CI)
// in front of one well-behaved fake source per protocol. For every case: no 5xx (the sources
// never fail, so any would be BitRouter's own), an error body in the route's protocol shape,
// no source key in any answer; at the end /health answers, no stack trace was logged and RSS
// is within bounds. FUZZ_SEED replays a run; FUZZ_CASES sets its size.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";
import { type Random, seededRandom } from "./random.ts";

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SECRETS = ["sk-ant-source-key-fuzz", "sk-resp-source-key-fuzz", "sk-chat-source-key-fuzz"];
const random = seededRandom();

let sources: FakeUpstream[] = [];
let bitrouter: RunningBitRouter;

beforeAll(async () => {
  sources = await Promise.all(["chatsrc", "msgsrc", "respsrc"].map((name) => startFakeUpstream(name)));
  const [chat, msg, resp] = sources as [FakeUpstream, FakeUpstream, FakeUpstream];
  bitrouter = await startBitRouter({
    config: `
server:
  keepalive_secs: 1
  body_limit_mb: 2
  request_body_timeout_secs: 2
upstream:
  timeouts: { read_secs: 3 }
providers:
  chatsrc: { api_base: ${chat.baseUrl}, api_key: ${SECRETS[2]}, models: [{ id: m }, { id: thinker, capabilities: [reasoning] }] }
  msgsrc: { api_base: ${msg.baseUrl}, api_key: ${SECRETS[0]}, api_protocol: messages, models: [{ id: m }, { id: thinker, capabilities: [reasoning] }] }
  respsrc: { api_base: ${resp.baseUrl}, api_key: ${SECRETS[1]}, api_protocol: responses, models: [{ id: m }] }
models:
  chain: { endpoints: [{ provider: msgsrc, service_id: m }, { provider: chatsrc, service_id: m }, { provider: respsrc, service_id: m }] }
`,
  });
});

afterAll(async () => {
  expect(await bitrouter.stop()).toBe(0);
  for (const s of sources) s.stop();
});

type Route = "/v1/chat/completions" | "/v1/messages" | "/v1/responses" | "/v1/messages/count_tokens";
const MODELS = ["chatsrc:m", "msgsrc:m", "respsrc:m", "m", "chain", "msgsrc:thinker", "chatsrc:thinker", "nope"];

function validBody(route: Route, r: Random): Record<string, unknown> {
  const model = r.pick(MODELS);
  const stream = r.chance(0.5);
  const tool = { name: "get_weather", description: "weather", schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
  switch (route) {
    case "/v1/chat/completions":
      return {
        model,
        stream,
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: [{ type: "text", text: "hi" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] },
          { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: tool.name, arguments: '{"city":"Paris"}' } }] },
          { role: "tool", tool_call_id: "call_1", content: "sunny" },
        ],
        tools: [{ type: "function", function: { name: tool.name, description: tool.description, parameters: tool.schema } }],
        temperature: 0.5,
        max_tokens: 50,
        stream_options: { include_usage: true },
      };
    case "/v1/messages":
    case "/v1/messages/count_tokens":
      return {
        model,
        ...(route === "/v1/messages" ? { stream } : {}),
        max_tokens: 50,
        system: [{ type: "text", text: "be brief", cache_control: { type: "ephemeral" } }],
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "sig" }, { type: "tool_use", id: "toolu_1", name: tool.name, input: { city: "Paris" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
        ],
        tools: [{ name: tool.name, description: tool.description, input_schema: tool.schema }],
        metadata: { user_id: "user_abc_session_123" },
        thinking: { type: "enabled", budget_tokens: 1024 },
      };
    case "/v1/responses":
      return {
        model,
        stream,
        instructions: "be brief",
        input: [
          { role: "user", content: [{ type: "input_text", text: "hi" }] },
          { type: "function_call", call_id: "call_1", name: tool.name, arguments: '{"city":"Paris"}' },
          { type: "function_call_output", call_id: "call_1", output: "sunny" },
        ],
        tools: [{ type: "function", name: tool.name, parameters: tool.schema, strict: false }],
        reasoning: { effort: "low" },
      };
  }
}

const ODD_VALUES = (r: Random): unknown[] => [
  null,
  true,
  0,
  -1,
  1e308,
  "",
  "x".repeat(r.int(200_000)),
  "日本語 \u0000 \ud800 \r\nX-Injected: yes 🎉",
  [],
  {},
  [null, 1, "a", {}],
  { type: "weird", text: 5 },
  nested(1 + r.int(300)),
  Array.from({ length: r.int(2000) }, (_, i) => ({ role: "user", content: `m${i}` })),
];

function nested(depth: number): unknown {
  let value: unknown = "deep";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

/** Every [container, key] pair of a JSON tree, to pick a mutation point from. */
function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): [Record<string, unknown> | unknown[], string | number][] {
  if (Array.isArray(value)) value.forEach((v, i) => (out.push([value, i]), slots(v, out)));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) out.push([value as Record<string, unknown>, k]), slots(v, out);
  return out;
}

function mutate(body: Record<string, unknown>, r: Random): void {
  const rounds = 1 + r.int(3);
  for (let i = 0; i < rounds; i++) {
    const all = slots(body);
    const [container, key] = r.pick(all);
    const op = r.int(4);
    if (op === 0) (container as Record<string, unknown>)[key as string] = r.pick(ODD_VALUES(r));
    else if (op === 1 && !Array.isArray(container)) delete container[key as string];
    else if (op === 2) body[r.pick(["n", "logprobs", "response_format", "output_config", "text", "background", "previous_response_id", "tool_choice", "stop", "models", "brand_new"])] = r.pick(ODD_VALUES(r));
    else body.model = r.pick([...MODELS, 42, null, "chatsrc:m\r\nX: y", "msgsrc:日本語", "", " ", "a:b:c", "x".repeat(5000)]);
  }
}

interface Case {
  route: Route;
  body: string | Uint8Array;
  headers: Record<string, string>;
  what: string;
}

function makeCase(r: Random): Case {
  const route = r.pick<Route>(["/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/messages/count_tokens"]);
  const body = validBody(route, r);
  if (r.chance(0.8)) mutate(body, r);
  let text = JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": "application/json" };
  const raw = r.int(12);
  let encoded: string | Uint8Array = text;
  let what = "json";
  if (raw === 0) (encoded = text.slice(0, r.int(text.length))), (what = "truncated");
  else if (raw === 1) (encoded = new Uint8Array([...new TextEncoder().encode(text.slice(0, 20)), 0xff, 0xfe, 0xc3])), (what = "bad utf-8");
  else if (raw === 2) (headers["content-type"] = r.pick(["text/plain", "", "application/x-www-form-urlencoded", "application/json; charset=latin1"])), (what = "content-type");
  else if (raw === 3) (encoded = Bun.gzipSync(new TextEncoder().encode(text))), (headers["content-encoding"] = "gzip"), (what = "gzip");
  else if (raw === 4) (encoded = Bun.zstdCompressSync(new TextEncoder().encode(text))), (headers["content-encoding"] = r.pick(["zstd", "gzip", "br", "lzma"])), (what = "compressed, maybe mislabelled");
  else if (raw === 5) (headers["x-bitrouter-request-id"] = r.pick(["", "a b", "%E6%97%A5", "x".repeat(500), "ok-id-1", "../..", "id\"quoted"])), (what = "request id");
  else if (raw === 6) (headers["anthropic-beta"] = "garbage,,\u00e9"), (headers["anthropic-version"] = "1999-01-01"), (what = "anthropic headers");
  else if (raw === 7) (encoded = r.pick(["", "[]", "null", "1", '"s"', "{", '{"model":"m","model":"n","messages":[]}']) ), (what = "odd json");
  else if (raw === 8) (text = text.replace(/"hi"/g, '"#fake:status:500"')), (encoded = text), (what = "marker text");
  return { route, body: encoded, headers, what };
}

function errorShapeOk(route: Route, status: number, text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  const body = parsed as { type?: string; error?: { type?: unknown; message?: unknown } };
  if (typeof body.error?.message !== "string" || body.error.message === "") return false;
  return route.startsWith("/v1/messages") ? body.type === "error" && typeof body.error.type === "string" : status > 0;
}

test(`${CASES} mutated requests: no 5xx of BitRouter's own, errors in the route's shape, no secret, still serving (seed ${random.seed})`, async () => {
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const cases = Array.from({ length: CASES }, () => makeCase(random));
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < cases.length) {
      const index = next++;
      const c = cases[index]!;
      sent++;
      let status = 0;
      let text = "";
      try {
        const res = await fetch(`${bitrouter.url}${c.route}`, { method: "POST", headers: c.headers, body: c.body, signal: AbortSignal.timeout(15_000) });
        status = res.status;
        text = await res.text();
      } catch (err) {
        failures.push(`case ${index} (${c.route}, ${c.what}): no answer: ${(err as Error).message}`);
        continue;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      // The marker case asks a source for a 500: the chain's 502/503 is then the source's doing.
      const sourceFault = c.what === "marker text" && status >= 502;
      if (status >= 500 && !sourceFault) failures.push(`case ${index} (${c.route}, ${c.what}): ${status} ${text.slice(0, 200)}`);
      if (status >= 400 && !errorShapeOk(c.route, status, text)) failures.push(`case ${index} (${c.route}, ${c.what}): ${status} not in the route's error shape: ${text.slice(0, 200)}`);
      for (const secret of SECRETS) if (text.includes(secret)) failures.push(`case ${index}: a source key in the answer`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  expect(sent).toBe(CASES);
  expect((await fetch(`${bitrouter.url}/health`)).status).toBe(200);
  const stderr = bitrouter.stderr();
  for (const secret of SECRETS) expect(stderr).not.toContain(secret);
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(stderr).not.toContain("unhandled error");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${bitrouter.proc.pid}/status`, "utf8"))?.[1] ?? 0);
  console.log(`fuzz: seed ${random.seed}, ${CASES} cases, ${failures.length} failed, server RSS ${Math.round(rssKb / 1024)} MB; statuses ${[...statuses].sort(([a], [b]) => a - b).map(([k, v]) => `${k}×${v}`).join(" ")}`);
  expect(rssKb / 1024).toBeLessThan(400);
  expect(failures.slice(0, 20)).toEqual([]);
}, 120_000);
