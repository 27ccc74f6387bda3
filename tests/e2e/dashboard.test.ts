// The dashboard (issue #13, SPEC §19) in a real browser: Debian's Chromium driven by
// playwright-core (never a downloaded browser), against BitRouter (the built binary in CI) with
// fake sources, every request outside BitRouter blocked and recorded. Screenshots of each panel
// go to .artifacts/dashboard/ (the README's picture is one of them).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type RunningBitRouter, startBitRouter } from "../support/bitrouter.ts";
import { type FakeUpstream, startFakeUpstream } from "../support/fake-upstream.ts";
import { claudeHeaders, nowSecs, withLogins } from "../support/plans.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dir, "../../.artifacts/dashboard");

let claudeApi: FakeUpstream;
let flaky: FakeUpstream;
let steady: FakeUpstream;
let open: RunningBitRouter;
let locked: RunningBitRouter;
let browser: Browser;
/** Requests the page tried to make anywhere but BitRouter. */
const blocked: string[] = [];
/** Every request the page made to BitRouter: method and path. */
const made: string[] = [];
const pageErrors: string[] = [];

/** Sources and a virtual model; `plan` adds the Claude plan login as a source. */
const config = (plan = "") => `
upstream: { max_retry_wait_secs: 1 }
providers:
  flaky:
    api_base: \${FLAKY_BASE}
    models: [{ id: m }]
  steady:
    api_base: \${STEADY_BASE}
    api_key: sk-steady-0123456789
    kind: api
    models: [{ id: m, pricing: { input_micro_usd_per_token: 3, output_micro_usd_per_token: 15 } }]
  ghost:
    api_base: https://ghost.example/v1
    api_key: \${GHOST_API_KEY}
${plan}models:
  smart:
    endpoints:
      - { provider: flaky, service_id: m }
      - { provider: steady, service_id: m }
`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  mkdirSync(ARTIFACTS, { recursive: true });
  claudeApi = await startFakeUpstream("claude-plan");
  flaky = await startFakeUpstream("flaky");
  steady = await startFakeUpstream("steady");
  const env = { BITROUTER_ANTHROPIC_API_BASE: claudeApi.baseUrl, FLAKY_BASE: flaky.baseUrl, STEADY_BASE: steady.baseUrl };
  open = await startBitRouter({ config: config("  anthropic: {}\n"), dir: withLogins({ anthropic: { default: "sk-ant-oat01-dash" } }), env });
  locked = await startBitRouter({ config: `server:\n  api_keys: [dash-secret-key]\n  skip_auth: false\n${config()}`, env });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });

  // The plan answers at 96 % of its 5-hour window, resetting in two hours; the steady source
  // has served a priced request: the plans and usage panels have something to show.
  claudeApi.answerHeaders = () => claudeHeaders(0.96, nowSecs() + 2 * 3600, "allowed_warning");
  const plan = await fetch(`${open.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "anthropic:claude-sonnet-4-5", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }) });
  expect(plan.status).toBe(200);
  const priced = await fetch(`${open.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "steady:m", messages: [{ role: "user", content: "hi" }] }) });
  expect(priced.status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
  for (const r of [open, locked]) if (r) expect(await r.stop()).toBe(0);
  for (const f of [claudeApi, flaky, steady]) f?.stop();
});

/** A tab on `server` that may reach BitRouter and nothing else. */
async function tab(server: RunningBitRouter, viewport = { width: 1280, height: 1600 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const origin = new URL(server.url).origin;
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) {
      made.push(`${route.request().method()} ${new URL(url).pathname}`);
      return route.continue();
    }
    blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().includes("401")) pageErrors.push(message.text());
  });
  return { context, page };
}

describe("the dashboard", () => {
  test("loads from BitRouter alone and shows all four panels with live data", async () => {
    const { context, page } = await tab(open);
    await page.goto(`${open.url}/`);

    // Sources: the inactive source and why, in words.
    const ghost = page.locator("#sources tr", { hasText: "ghost" });
    await ghost.waitFor();
    expect(await ghost.textContent()).toContain("inactive");
    expect(await ghost.textContent()).toContain("GHOST_API_KEY");
    expect(await page.locator("#sources tr", { hasText: "steady" }).textContent()).toContain("active");

    // Plans: the 5-hour window's bar at 96 %, past the spill-over mark, with its countdown.
    const meter = page.locator('#plans [role="meter"][aria-label*="5h"]');
    await meter.waitFor();
    expect(await meter.getAttribute("aria-valuenow")).toBe("96");
    const window = await page.locator("#plans .window", { hasText: "5h" }).textContent();
    expect(window).toContain("96% used");
    expect(window).toContain("spill-over at 95%");
    expect(window).toMatch(/\(in 1 h 5\d min\)|\(in 2 h 00 min\)/);
    expect(await page.locator("#plans .plan").textContent()).toContain("Demoted");

    // Usage: the priced request's cost; the plan's saving.
    await page.locator("#usage figure", { hasText: "By source" }).waitFor();
    const usage = await page.locator("#usage").textContent();
    expect(usage).toContain("steady");
    // 11 input and 7 output tokens at $3 / $15 per million.
    expect(usage).toContain("cost $0.0001 · saved $0.");
    expect(usage).not.toContain("null");
    expect(usage).toContain("anthropic");

    // Live: what was served before the page opened is already in the tail.
    await page.locator("#live-table tbody tr", { hasText: "steady:m" }).waitFor();

    for (const panel of ["sources", "plans", "live", "usage"]) await page.locator(`#${panel}`).screenshot({ path: join(ARTIFACTS, `${panel}.png`) });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    // The README's picture (docs/dashboard.jpg): the first screenful, small enough to commit.
    await page.screenshot({ path: join(ARTIFACTS, "readme.jpg"), type: "jpeg", quality: 70, clip: { x: 0, y: 0, width: 1280, height: 1000 } });
    expect(blocked).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  test("a request sent now appears in the live tail with its failover, and its route is one click away", async () => {
    const { context, page } = await tab(open);
    await page.goto(`${open.url}/bitrouter/ui`);
    await page.locator("#live-table").waitFor();
    flaky.mode = "status:503";
    const sent = performance.now();
    const response = await fetch(`${open.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "smart", messages: [{ role: "user", content: "hi" }] }) });
    expect(response.status).toBe(200);
    const row = page.locator("#live-table tbody tr", { hasText: "smart" }).first();
    await row.waitFor();
    // Reported, not asserted: how long the row took to show.
    console.log(`live tail: the row appeared ${Math.round(performance.now() - sent)} ms after the request was sent`);
    const text = (await row.textContent()) ?? "";
    expect(text).toContain("steady");
    expect(text).toMatch(/flaky\/m: HTTP 503/);
    expect(text).toContain("200");

    await row.click();
    const detail = page.locator("#route-detail");
    await detail.locator("ol").waitFor();
    const route = (await detail.textContent()) ?? "";
    expect(route).toContain("Route for smart");
    expect(route).toContain("failed over 1 time before steady");
    expect(route).toMatch(/flaky\/m.*demoted/);
    expect(route).not.toContain("null");
    await page.locator("#live").screenshot({ path: join(ARTIFACTS, "live-route.png") });
    expect(blocked).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  test("with keys set, the page asks for one; a wrong key is refused with the reason; the key stays in its tab", async () => {
    // The page itself holds no data; what fills it is behind the key.
    for (const path of ["/bitrouter/live", "/bitrouter/status", "/bitrouter/usage"]) expect((await fetch(`${locked.url}${path}`)).status).toBe(401);
    const { context, page } = await tab(locked);
    await page.goto(`${locked.url}/`);
    const form = page.locator("#key-form");
    await form.waitFor();
    expect(await page.locator("#panels").isHidden()).toBe(true);
    await page.fill("#key-input", "not-the-key");
    await page.click("#key-form button");
    await page.locator("#key-error", { hasText: "That key was refused: invalid API key" }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "key-refused.png") });

    // A key no HTTP header can carry brings the prompt back with the reason, not a stuck page.
    await page.fill("#key-input", "ключ");
    await page.click("#key-form button");
    await page.locator("#key-error", { hasText: "an HTTP header cannot carry" }).waitFor();

    await page.fill("#key-input", "dash-secret-key");
    await page.click("#key-form button");
    await page.locator("#sources tr", { hasText: "ghost" }).waitFor();
    expect(await form.isHidden()).toBe(true);

    // sessionStorage: another tab asks again; a reload of this one does not.
    const other = await context.newPage();
    await other.goto(`${locked.url}/`);
    await other.locator("#key-form").waitFor();
    await page.reload();
    await page.locator("#sources tr", { hasText: "ghost" }).waitFor();
    expect(await page.locator("#key-form").isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  test("read-only, plain and narrow: only GETs, every state in words, no sideways scrolling on a phone", async () => {
    const { context, page } = await tab(open, { width: 360, height: 800 });
    made.length = 0;
    await page.goto(`${open.url}/`);
    await page.locator("#usage figure", { hasText: "By day" }).waitFor();
    await page.locator("#live-table tbody tr").first().waitFor();
    expect(made.every((m) => m.startsWith("GET "))).toBe(true);
    expect(await page.locator("form:not(#key-form), [contenteditable]").count()).toBe(0);
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    // A very long model name is cut in its cell; the table stays about as wide as its panel.
    await fetch(`${open.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "x".repeat(3000), messages: [{ role: "user", content: "hi" }] }) });
    await page.locator("#live-table tbody tr", { hasText: "xxxxxxxx…" }).waitFor();
    const tableOverflow = await page.evaluate<number>("document.getElementById('live-table').scrollWidth - document.querySelector('#live .scroll').clientWidth");
    expect(tableOverflow).toBeLessThan(400);
    expect(overflow).toBeLessThanOrEqual(0);
    // No colour needed: states are words, bars carry their figures.
    expect(await page.locator("#sources").textContent()).toMatch(/inactive/);
    expect(await page.locator("#plans").textContent()).toMatch(/96% used/);
    await page.screenshot({ path: join(ARTIFACTS, "narrow.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
