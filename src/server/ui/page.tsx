/** @jsxImportSource hono/jsx */
// The dashboard's one page (SPEC §19), rendered on the server by Hono's JSX: the four panels'
// frames, headings and empty states. The live parts are filled by client.js from the same JSON
// the CLI reads (/bitrouter/status, /route, /usage) and the /bitrouter/live tail. The page holds
// no data of its own, so it is served without a key; everything it shows comes through the API's auth.
import type { FC, PropsWithChildren } from "hono/jsx";

const Panel: FC<PropsWithChildren<{ id: string; title: string; hint: string }>> = (props) => (
  <section id={props.id} class="panel" aria-labelledby={`${props.id}-title`}>
    <h2 id={`${props.id}-title`}>{props.title}</h2>
    <p class="hint">{props.hint}</p>
    {props.children}
    <div class="panel-body" aria-busy="true">
      <p class="empty">Loading…</p>
    </div>
  </section>
);

export const DashboardPage: FC<{ version: string }> = (props) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>BitRouter</title>
      <link rel="stylesheet" href="/bitrouter/ui/app.css" />
      {/* No icon to fetch: a browser would otherwise ask for /favicon.ico and log the 404. */}
      <link rel="icon" href="data:," />
      <script src="/bitrouter/ui/client.js" defer></script>
    </head>
    <body>
      <header class="top">
        <h1>BitRouter</h1>
        <span class="version">{props.version}</span>
        <p id="connection" role="status">
          Connecting…
        </p>
        <p id="updated" class="muted"></p>
      </header>
      <form id="key-form" class="key-form" hidden>
        <h2>This BitRouter asks for an API key</h2>
        <p>The key is kept in this tab only, until it closes.</p>
        <label for="key-input">API key</label>
        <input id="key-input" name="key" type="password" autocomplete="off" required />
        <button type="submit">Open the dashboard</button>
        <p id="key-error" class="error" role="alert"></p>
      </form>
      <main id="panels">
        <Panel id="sources" title="Sources" hint="Every source, whether it can serve, and each target's health." />
        <Panel id="plans" title="Plans" hint="Each plan account's quota windows; traffic moves off a plan at the spill-over mark." />
        <Panel id="usage" title="Usage" hint="From the usage ledger: what the requests cost, and what plans and local models saved.">
          <div class="usage-controls" role="group" aria-label="Period">
            <button type="button" data-since="24h">24 hours</button>
            <button type="button" data-since="7d" aria-pressed="true">
              7 days
            </button>
            <button type="button" data-since="30d">30 days</button>
          </div>
        </Panel>
        <Panel id="live" title="Live" hint="Requests as they finish. Choose one to see the route a request for its model takes now.">
          <div id="route-detail" class="route-detail" aria-live="polite" tabindex={-1}></div>
        </Panel>
      </main>
      <noscript>
        <p>The dashboard fills its panels with JavaScript. The same facts, in a terminal: bitrouter status, bitrouter route MODEL, bitrouter usage.</p>
      </noscript>
    </body>
  </html>
);
