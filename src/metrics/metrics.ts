// GET /metrics (SPEC §17) in the Prometheus text format, written by prom-client (siimon's, the
// usual Node exporter; it runs unchanged in Bun and in the compiled binary). Fed by the one
// event per finished request; gauges of plan windows and target health are read from the
// router's state when scraped. Label values come only from the registry (sources, declared
// models, accounts) or small fixed sets; anything else is `other`, so the series stay bounded
// whatever clients send.
import { Counter, Gauge, Histogram, Registry as PromRegistry } from "prom-client";
import { bucketsOf } from "../ledger/prices.ts";
import type { RequestEvent } from "../request-event.ts";
import { findModel, type Registry } from "../sources/registry.ts";
import { viewOf } from "../state/health.ts";
import { splitKey, type TargetState } from "../state/target-state.ts";

export interface Metrics {
  observe(event: RequestEvent): void;
  /** A client stream opened (+1) or ended (-1). */
  stream(delta: 1 | -1): void;
  /** The exposition text. */
  text(): Promise<string>;
  readonly contentType: string;
}

const PROTOCOLS = new Set(["chat_completions", "messages", "responses", "generate_content"]);
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120, 300];
/** BitRouter's own time per request: tens of microseconds to a few milliseconds. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const HEALTH_STATES = ["cooling", "probing", "due"] as const;

export function createMetrics(deps: { state: TargetState; registry: () => Registry; now?: () => number }): Metrics {
  const now = deps.now ?? Date.now;
  const registers = [new PromRegistry()];
  const [register] = registers as [PromRegistry];
  const requests = new Counter({ name: "bitrouter_requests_total", help: "Requests answered, by client protocol, serving source and status class.", labelNames: ["protocol", "source", "status_class"], registers });
  const attempts = new Counter({ name: "bitrouter_attempts_total", help: "Upstream attempts, by source and result (served or failed).", labelNames: ["source", "result"], registers });
  const failovers = new Counter({ name: "bitrouter_failovers_total", help: "Requests served after at least one failed attempt.", labelNames: ["protocol"], registers });
  const tokens = new Counter({ name: "bitrouter_tokens_total", help: "Tokens as the sources reported them, by bucket (output includes reasoning).", labelNames: ["source", "model", "bucket"], registers });
  const missing = new Counter({ name: "bitrouter_usage_missing_total", help: "Answers whose source reported no usage.", labelNames: ["source"], registers });
  const ttft = new Histogram({ name: "bitrouter_time_to_first_byte_seconds", help: "Time to the first byte of the answer (the whole answer when not streamed).", labelNames: ["protocol", "source"], buckets: LATENCY_BUCKETS, registers });
  const duration = new Histogram({ name: "bitrouter_request_duration_seconds", help: "Whole request duration.", labelNames: ["protocol", "source"], buckets: LATENCY_BUCKETS, registers });
  const overhead = new Histogram({ name: "bitrouter_overhead_seconds", help: "BitRouter's own time per request: time to the first byte minus time spent waiting on sources.", buckets: OVERHEAD_BUCKETS, registers });
  const openStreams = new Gauge({ name: "bitrouter_open_streams", help: "Client streams open now.", registers });

  new Gauge({
    name: "bitrouter_window_utilization",
    help: "Each plan account's quota windows as last reported (0-1).",
    labelNames: ["source", "account", "window"],
    registers,
    collect() {
      this.reset();
      const registry = deps.registry();
      for (const { account, windows } of deps.state.listWindows()) {
        const [source = "", label = ""] = splitKey(account);
        if (!registry.sources.has(source)) continue;
        for (const w of windows.windows) if (w.utilization !== null) this.set({ source, account: label, window: w.name }, w.utilization);
      }
    },
  });
  new Gauge({
    name: "bitrouter_target_health",
    help: "Targets that are not plainly ok: 1 for the state they are in (cooling, probing, due for a probe).",
    labelNames: ["source", "model", "account", "state"],
    registers,
    collect() {
      this.reset();
      const registry = deps.registry();
      const at = now();
      for (const { target, health } of deps.state.list()) {
        const view = viewOf(health, at);
        if (!(HEALTH_STATES as readonly string[]).includes(view)) continue;
        const [source = "", model = "", account = ""] = splitKey(target);
        const known = registry.sources.get(source);
        if (!known) continue;
        this.set({ source, model: known && findModel(known, model) ? model : "other", account, state: view }, 1);
      }
    },
  });

  return {
    observe(event) {
      const protocol = PROTOCOLS.has(event.protocol) ? event.protocol : "other";
      const served = event.served;
      const registry = deps.registry();
      const source = served && registry.sources.has(served.provider) ? served.provider : served ? "other" : "none";
      requests.inc({ protocol, source, status_class: statusClass(event.status) });
      for (const failed of event.failed) attempts.inc({ source: registry.sources.has(failed.provider) ? failed.provider : "other", result: "failed" });
      if (served) {
        attempts.inc({ source, result: "served" });
        if (event.failed.length > 0) failovers.inc({ protocol });
        const model = served.declared ? served.upstreamModel : "other";
        if (event.usage) {
          const b = bucketsOf(event.usage);
          const add = (bucket: string, n: number) => n > 0 && tokens.inc({ source, model, bucket }, n);
          add("input", b.input);
          add("cache_read", b.cacheRead);
          add("cache_write", b.cacheWrite);
          add("output", b.output);
          add("reasoning", b.reasoning);
        } else if (event.status === 200) missing.inc({ source });
      }
      if (event.ttftMs !== undefined) ttft.observe({ protocol, source }, event.ttftMs / 1000);
      duration.observe({ protocol, source }, event.durationMs / 1000);
      if (event.overheadMs !== undefined) overhead.observe(event.overheadMs / 1000);
    },
    stream(delta) {
      openStreams.inc(delta);
    },
    text: () => register.metrics(),
    contentType: register.contentType,
  };
}

function statusClass(status: number): string {
  if (status === 499) return "client_gone";
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
}
