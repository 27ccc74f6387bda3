// The dashboard's live parts (SPEC §19), run in the browser. Plain JavaScript with no library and
// nothing fetched but BitRouter's own API: /bitrouter/status every 5 s, /bitrouter/usage every
// minute, /bitrouter/live as a stream, /bitrouter/route on demand. Every text from the server is
// set as text (never parsed as HTML): model names and reasons come from clients and sources.
// The API key, when the server asks for one, is kept in sessionStorage: this tab only.
"use strict";
(() => {
  const KEY = "bitrouter.key";
  const STATUS_EVERY_MS = 5000;
  const USAGE_EVERY_MS = 60000;
  const LIVE_ROWS = 200;

  let key = sessionStorage.getItem(KEY) || "";
  let since = "7d";
  let timers = [];
  let live = null;

  class AuthError extends Error {}

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      else if (name === "style") Object.assign(node.style, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  const svgNs = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(svgNs, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children.flat()) if (child) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  function body(panel) {
    return document.querySelector(`#${panel} .panel-body`);
  }

  function fill(panel, ...nodes) {
    const target = body(panel);
    target.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
    target.removeAttribute("aria-busy");
  }

  async function api(path, signal) {
    let response;
    try {
      response = await fetch(path, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal, cache: "no-store" });
    } catch (error) {
      // A key no header can carry (a character outside Latin-1): the browser refuses to send it.
      if (key && error instanceof TypeError && !signal?.aborted && /header|ISO-8859-1|code point/i.test(error.message)) throw new AuthError("it has characters an HTTP header cannot carry");
      throw error;
    }
    if (response.status === 401) throw new AuthError(await messageOf(response));
    if (response.status === 431 && key) throw new AuthError("it is too long for an HTTP header");
    if (!response.ok) throw new Error(`${path.split("?")[0]}: ${await messageOf(response)}`);
    return response;
  }

  async function messageOf(response) {
    try {
      const body = await response.json();
      return (body.error && body.error.message) || `HTTP ${response.status}`;
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  // ── Time ──────────────────────────────────────────────────────────────────────────────

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  /** A countdown to an ISO time, kept current by the ticker. */
  function countdown(iso) {
    if (!iso) return el("span", { class: "muted" }, "no time given");
    const node = el("time", { datetime: iso, "data-until": iso });
    tickOne(node);
    return node;
  }

  /** "Tue 14:00 (in 1 h 02 min)" for an ISO time, in this browser's clock. */
  function when(iso) {
    const at = Date.parse(iso);
    const left = at - Date.now();
    const local = new Date(at).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
    return left > 0 ? `${local} (in ${duration(left)})` : `${local} (passed)`;
  }

  function tickOne(node) {
    node.textContent = when(node.dataset.until);
  }

  function tick() {
    for (const node of document.querySelectorAll("[data-until]")) tickOne(node);
  }

  // ── Sources ───────────────────────────────────────────────────────────────────────────

  function renderSources(status) {
    // The sources that can serve first; the others after, in the server's order.
    const sorted = [...status.sources.filter((s) => s.active), ...status.sources.filter((s) => !s.active)];
    const rows = sorted.map((s) =>
      el(
        "tr",
        { class: s.active ? "" : "inactive" },
        el("th", { scope: "row" }, s.provider),
        el("td", {}, s.kind),
        el("td", {}, el("span", { class: `state ${s.active ? "ok" : "off"}` }, s.active ? "active" : "inactive")),
        el("td", {}, s.reason),
        el(
          "td",
          {},
          s.accounts.length <= 1 && s.accounts.every((a) => a.label === "default")
            ? "—"
            : el("ul", { class: "plain" }, s.accounts.map((a) => el("li", {}, `${a.label}: ${a.active ? "active" : `inactive (${a.reason})`}`))),
        ),
      ),
    );
    const sources = el(
      "div",
      { class: "scroll" },
      el("table", {}, el("caption", {}, `${sorted.filter((s) => s.active).length} of ${sorted.length} sources active`), el("thead", {}, el("tr", {}, ["Source", "Kind", "State", "Why", "Accounts"].map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, rows)),
    );
    const health =
      status.health.length === 0
        ? el("p", { class: "empty" }, "Every target is healthy: nothing cooling, nothing failing.")
        : el(
            "div",
            { class: "scroll" },
            el(
              "table",
              { id: "health" },
              el("caption", {}, "Targets with something on record"),
              el("thead", {}, el("tr", {}, ["Target", "Health", "Why", "Back"].map((h) => el("th", { scope: "col" }, h)))),
              el(
                "tbody",
                {},
                status.health.map((h) =>
                  el(
                    "tr",
                    {},
                    el("th", { scope: "row" }, `${h.provider}/${h.model}${h.account !== "default" ? ` (${h.account})` : ""}`),
                    el("td", {}, el("span", { class: `state ${h.state}` }, h.state), h.failures ? ` · ${h.failures} failure${h.failures === 1 ? "" : "s"} in a row` : ""),
                    el("td", {}, h.reason),
                    el("td", {}, h.until ? countdown(h.until) : h.state === "failing" ? "not cooling yet" : "at the next probe"),
                  ),
                ),
              ),
            ),
          );
    fill("sources", sources, el("h3", {}, "Health"), health);
  }

  // ── Plans ─────────────────────────────────────────────────────────────────────────────

  function renderPlans(status) {
    if (status.plans.length === 0) {
      fill("plans", el("p", { class: "empty" }, "No plan logins. `bitrouter login anthropic` (a Claude plan) or `bitrouter login openai-codex` (a ChatGPT plan) adds one; its windows appear here once it has answered."));
      return;
    }
    const spill = Math.round(status.spill_at * 100);
    const cards = status.plans.map((plan) => {
      const title = `${plan.provider} (${plan.account})`;
      const windows =
        plan.windows.length === 0
          ? [el("p", { class: "empty" }, "No windows yet: they are read from the plan's next answer.")]
          : plan.windows.map((w) => {
              const used = w.utilization === null ? null : Math.round(w.utilization * 1000) / 10;
              const label = `${w.name}${w.scope ? ` (${w.scope})` : ""}`;
              return el(
                "div",
                { class: "window" },
                el("div", { class: "window-head" }, el("strong", {}, label), " ", el("span", { class: `state ${w.status || "unknown"}` }, w.status || "no status")),
                el(
                  "div",
                  {
                    class: `bar${used !== null && used >= spill ? " over" : ""}`,
                    role: "meter",
                    "aria-label": `${title} ${label} used`,
                    "aria-valuemin": 0,
                    "aria-valuemax": 100,
                    "aria-valuenow": used === null ? undefined : used,
                    "aria-valuetext": used === null ? "utilisation not reported" : `${used}% used`,
                  },
                  el("span", { class: "fill", style: { width: `${Math.min(100, used || 0)}%` } }),
                  el("span", { class: "spill", style: { left: `${spill}%` }, title: `spill-over at ${spill}%` }),
                ),
                el("p", { class: "window-text" }, used === null ? "utilisation not reported" : `${used}% used`, ` · spill-over at ${spill}% · resets `, countdown(w.resets_at)),
              );
            });
      return el(
        "article",
        { class: "plan" },
        el("h3", {}, title),
        el("p", {}, `Status: ${plan.status || "not seen yet"}${plan.binding ? ` · binding window ${plan.binding}` : ""}`),
        plan.demoted ? el("p", { class: "demoted" }, "Demoted: ", plan.demoted.reason, plan.demoted.until ? [" · back ", countdown(plan.demoted.until)] : "") : null,
        windows,
      );
    });
    fill("plans", cards);
  }

  // ── Live ──────────────────────────────────────────────────────────────────────────────

  function liveTable() {
    let table = document.getElementById("live-table");
    if (table) return table.tBodies[0];
    table = el(
      "table",
      { id: "live-table" },
      el("caption", {}, "Latest requests first"),
      el("thead", {}, el("tr", {}, ["Time", "Model asked", "Served by", "Failovers", "Tokens", "TTFT", "Status", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}),
    );
    fill("live", el("div", { class: "scroll" }, table));
    return table.tBodies[0];
  }

  /** A name as it fits a cell: long ones are cut, whole in the tooltip. */
  function short(text, max = 80) {
    return text.length > max ? el("span", { title: text }, `${text.slice(0, max - 1)}…`) : text;
  }

  function tokens(t) {
    if (!t) return el("span", { class: "muted" }, "not reported");
    const parts = [`in ${t.input}`, t.cacheRead ? `cache read ${t.cacheRead}` : "", t.cacheWrite ? `cache write ${t.cacheWrite}` : "", `out ${t.output}`, t.reasoning ? `reasoning ${t.reasoning}` : ""].filter(Boolean);
    return parts.join(" · ");
  }

  function addRow(entry) {
    const tbody = liveTable();
    // A reconnect replays the kept entries: a row already shown is not shown twice.
    if (tbody.querySelector(`tr[data-request-id="${CSS.escape(entry.id)}"]`)) return;
    const served = entry.served ? `${entry.served.provider}${entry.served.account !== "default" ? ` (${entry.served.account})` : ""} · ${entry.served.model}` : "—";
    const failovers = entry.failovers.length === 0 ? "—" : el("ul", { class: "plain" }, entry.failovers.map((f) => el("li", {}, short(`${f.provider}${f.model ? `/${f.model}` : ""}${f.account ? ` (${f.account})` : ""}: ${f.reason}`, 160))));
    const ok = entry.status < 400;
    const row = el(
      "tr",
      { "data-request-id": entry.id, class: ok ? "" : "failed" },
      el("td", {}, el("time", { datetime: new Date(entry.at).toISOString() }, clock(entry.at))),
      el("th", { scope: "row", class: "wrap" }, entry.model ? short(entry.model) : "(none)"),
      el("td", { class: "wrap" }, typeof served === "string" ? short(served) : served),
      el("td", { class: "wrap" }, failovers),
      el("td", {}, tokens(entry.tokens)),
      el("td", {}, entry.ttftMs === null ? "—" : `${Math.round(entry.ttftMs)} ms`),
      el("td", {}, el("span", { class: `state ${ok ? "ok" : "error"}` }, String(entry.status))),
      el("td", {}, entry.model ? el("button", { type: "button", onclick: () => explain(entry) }, "Route") : ""),
    );
    row.addEventListener("click", (event) => {
      if (event.target.tagName !== "BUTTON" && entry.model) explain(entry);
    });
    tbody.prepend(row);
    while (tbody.rows.length > LIVE_ROWS) tbody.deleteRow(tbody.rows.length - 1);
  }

  /** The route box is a live region: its times are written once (`when`), never ticking, or a reader would hear them each second. */
  async function explain(entry) {
    const detail = document.getElementById("route-detail");
    detail.scrollIntoView({ block: "nearest" });
    detail.focus();
    detail.replaceChildren(el("p", {}, `Route for ${entry.model}…`));
    try {
      const response = await fetch(`/bitrouter/route?model=${encodeURIComponent(entry.model)}&protocol=${encodeURIComponent(entry.protocol)}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      const route = await response.json();
      const heading = el("h3", {}, "Route for ", short(entry.model), ", as it stands now");
      if (route.error) {
        detail.replaceChildren(heading, el("p", { class: "error" }, route.error.message));
        return;
      }
      const steps = route.chain.map((t) =>
        el(
          "li",
          {},
          el("strong", {}, `${t.provider}/${t.model}${t.account !== "default" ? ` (${t.account})` : ""}`),
          ` — ${t.why}`,
          t.demoted ? el("span", { class: "demoted" }, ` · demoted: ${t.demoted.reason}`, t.demoted.until ? ` until ${when(t.demoted.until)}` : "") : "",
          t.probe ? " · next request probes it" : "",
        ),
      );
      const skipped = route.skipped.map((s) => el("li", {}, `${s.provider}/${s.model} skipped: ${s.reason}`));
      const happened = entry.failovers.length ? el("p", {}, `That request failed over ${entry.failovers.length} time${entry.failovers.length === 1 ? "" : "s"} before ${entry.served ? entry.served.provider : "giving up"}.`) : null;
      detail.replaceChildren(...[heading, happened, el("ol", { class: "plain" }, steps), skipped.length ? el("ul", { class: "plain muted" }, skipped) : null].filter(Boolean));
    } catch (error) {
      detail.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
    }
  }

  /** /bitrouter/live is server-sent events read through fetch, so the key can go in a header. */
  async function follow() {
    live?.abort();
    const controller = new AbortController();
    live = controller;
    try {
      const response = await api("/bitrouter/live", controller.signal);
      liveTable();
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      liveState = "Live";
      showConnection();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === "request" && data) addRow(JSON.parse(data));
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof AuthError) return askForKey(error.message);
      liveState = `Live tail unavailable: ${error.message || error}; retrying`;
      showConnection();
    }
    if (live === controller) {
      if (liveState === "Live") liveState = "Live tail lost; reconnecting…";
      showConnection();
      setTimeout(() => live === controller && follow(), 2000);
    }
  }

  // ── Usage ─────────────────────────────────────────────────────────────────────────────

  function money(usd) {
    return usd >= 100 ? `$${usd.toFixed(0)}` : usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
  }

  /** Horizontal bars: cost (solid) and saved (hatched), each labelled with its figure. */
  function chart(title, summary) {
    const groups = summary.groups.slice(0, 12).map((g) => ({ ...g, key: g.key || "(none)" }));
    if (groups.length === 0) return el("figure", { class: "chart" }, el("figcaption", {}, title), el("p", { class: "empty" }, "No requests in this period."));
    const max = Math.max(...groups.map((g) => Math.max(g.cost_usd, g.saved_usd)), 1e-9);
    const rowHeight = 34;
    const labelWidth = 150;
    const width = 560;
    const barSpace = width - labelWidth - 130;
    const rows = groups.map((g, i) => {
      const y = i * rowHeight;
      const cost = (g.cost_usd / max) * barSpace;
      const saved = (g.saved_usd / max) * barSpace;
      const name = g.key.length > 20 ? `${g.key.slice(0, 19)}…` : g.key;
      return svg(
        "g",
        { transform: `translate(0 ${y})` },
        svg("title", {}, `${g.key}: ${g.requests} requests, cost ${money(g.cost_usd)}, saved ${money(g.saved_usd)}`),
        svg("text", { x: 0, y: 14, class: "label" }, name),
        svg("rect", { x: labelWidth, y: 2, width: Math.max(1, cost), height: 12, class: "cost" }),
        svg("text", { x: labelWidth + Math.max(1, cost) + 4, y: 13, class: "figure" }, `cost ${money(g.cost_usd)}`),
        svg("rect", { x: labelWidth, y: 17, width: Math.max(1, saved), height: 12, class: "saved" }),
        svg("text", { x: labelWidth + Math.max(1, saved) + 4, y: 28, class: "figure" }, `saved ${money(g.saved_usd)}`),
      );
    });
    const picture = svg("svg", { viewBox: `0 0 ${width} ${groups.length * rowHeight}`, role: "img", "aria-label": `${title}: cost and money saved` }, rows);
    const table = el(
      "table",
      { class: "figures" },
      el("caption", {}, `${title}: requests, tokens, cost and money saved`),
      el("thead", {}, el("tr", {}, ["", "Requests", "Tokens in / out", "Cost", "Saved"].map((h) => el("th", { scope: "col" }, h)))),
      el(
        "tbody",
        {},
        groups.map((g) =>
          el("tr", {}, el("th", { scope: "row" }, g.key), el("td", {}, String(g.requests)), el("td", {}, `${g.input_tokens + g.cache_read_tokens + g.cache_write_tokens} / ${g.output_tokens}`), el("td", {}, money(g.cost_usd)), el("td", {}, money(g.saved_usd))),
        ),
      ),
    );
    return el("figure", { class: "chart" }, el("figcaption", {}, title), picture, el("details", { "data-chart": title, open: openFigures.has(title) }, el("summary", {}, "Figures"), el("div", { class: "scroll" }, table)));
  }

  /** Which charts' figure tables are open: a refresh keeps them so. */
  const openFigures = new Set();

  async function loadUsage() {
    for (const details of document.querySelectorAll("#usage details[data-chart]")) {
      if (details.open) openFigures.add(details.dataset.chart);
      else openFigures.delete(details.dataset.chart);
    }
    try {
      const [day, model, source] = await Promise.all(["day", "model", "source"].map(async (by) => (await api(`/bitrouter/usage?since=${since}&by=${by}`)).json()));
      const t = day.total;
      const totals = el(
        "p",
        { class: "totals" },
        `${t.requests} requests · cost ${money(t.cost_usd)} · saved ${money(t.saved_usd)} · cache hits ${t.cache_hit_ratio === null ? "—" : `${Math.round(t.cache_hit_ratio * 100)}%`} · ${t.failovers} retried or failed over · ${t.errors} errors`,
      );
      const legend = el("p", { class: "legend" }, el("span", { class: "key cost" }), " cost (pay-per-token sources) ", el("span", { class: "key saved" }), " saved (plans and local models, at list prices)");
      const unpriced = day.unpriced_models.length ? el("p", { class: "muted" }, `No price for: ${day.unpriced_models.join(", ")} (their tokens count, their cost does not).`) : null;
      fill("usage", totals, legend, unpriced, el("div", { class: "charts" }, chart("By day", day), chart("By model", model), chart("By source", source)));
    } catch (error) {
      if (error instanceof AuthError) return askForKey(error.message);
      fill("usage", el("p", { class: "empty" }, String(error.message || error)));
    }
  }

  // ── Start, auth, refresh ──────────────────────────────────────────────────────────────

  let liveState = "Connecting…";
  let statusNote = "";

  /** The header line: the live tail's state, and when the status was last read. Written only when it changes. */
  function showConnection() {
    const text = statusNote ? `${liveState} · ${statusNote}` : liveState;
    const node = document.getElementById("connection");
    if (node.textContent !== text) node.textContent = text;
  }

  function setConnection(text) {
    liveState = text;
    statusNote = "";
    showConnection();
  }

  function stop() {
    for (const t of timers) clearInterval(t);
    timers = [];
    live?.abort();
    live = null;
  }

  function askForKey(message) {
    stop();
    sessionStorage.removeItem(KEY);
    document.getElementById("panels").hidden = true;
    const form = document.getElementById("key-form");
    form.hidden = false;
    document.getElementById("key-error").textContent = key ? `That key was refused: ${message}` : "";
    setConnection("Waiting for an API key");
    document.getElementById("key-input").focus();
  }

  async function refreshStatus() {
    try {
      const status = await (await api("/bitrouter/status")).json();
      renderSources(status);
      renderPlans(status);
      if (!live && !document.hidden) follow();
      statusNote = "";
      showConnection();
      document.getElementById("updated").textContent = `Status read at ${clock(Date.now())}`;
      return true;
    } catch (error) {
      if (error instanceof AuthError) {
        askForKey(error.message);
        return false;
      }
      statusNote = `BitRouter did not answer: ${error.message || error}`;
      showConnection();
      return true;
    }
  }

  async function start() {
    stop();
    if (!(await refreshStatus())) return;
    document.getElementById("key-form").hidden = true;
    document.getElementById("panels").hidden = false;
    loadUsage();
    timers.push(setInterval(refreshStatus, STATUS_EVERY_MS), setInterval(loadUsage, USAGE_EVERY_MS), setInterval(tick, 1000));
  }

  // A hidden tab lets go of its live-tail connection: browsers allow six per host, and every
  // open dashboard tab holding one would starve the others. It follows again when shown.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      live?.abort();
      live = null;
      setConnection("Paused while this tab is hidden");
    } else if (timers.length > 0) {
      follow();
    }
  });

  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = document.getElementById("key-input").value.trim();
    const error = document.getElementById("key-error");
    if (!typed) return void (error.textContent = "Type the key first.");
    key = typed;
    sessionStorage.setItem(KEY, key);
    start();
  });

  for (const button of document.querySelectorAll(".usage-controls button")) {
    button.addEventListener("click", () => {
      since = button.dataset.since;
      for (const b of document.querySelectorAll(".usage-controls button")) b.setAttribute("aria-pressed", String(b === button));
      loadUsage();
    });
  }

  start();
})();
