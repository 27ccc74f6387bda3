// GET /metrics (SPEC §17) in the Prometheus text format, written by prom-client (siimon's, the
// usual Node exporter; it runs unchanged in Bun and in the compiled binary). Fed by the one
// event per finished request; gauges of plan windows and target health are read from the
// router's state when scraped. Label values come only from the registry (sources, declared
// models, accounts) or small fixed sets; anything else is `other`, so the series stay bounded
// whatever clients send.
//
// The request path only adds to plain maps (tallies and bucket counts keyed by their label
// values); prom-client reads them when scraped. Measured: prom-client's own inc/observe hash
// their labels on every call, about 5 % of BitRouter's CPU per request in a profile.
import { Counter, Gauge, type MetricValueWithName, Registry as PromRegistry } from "prom-client";
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
  const requests = tally(register, "bitrouter_requests_total", "Requests answered, by client protocol, serving source and status class.", ["protocol", "source", "status_class"]);
  const attempts = tally(register, "bitrouter_attempts_total", "Upstream attempts, by source and result (served or failed).", ["source", "result"]);
  const failovers = tally(register, "bitrouter_failovers_total", "Requests served after at least one failed attempt.", ["protocol"]);
  const tokens = tally(register, "bitrouter_tokens_total", "Tokens as the sources reported them, by bucket (output includes reasoning).", ["source", "model", "bucket"]);
  const missing = tally(register, "bitrouter_usage_missing_total", "Answers whose source reported no usage.", ["source"]);
  const ttft = histogram(register, "bitrouter_time_to_first_byte_seconds", "Time to the first byte of the answer (the whole answer when not streamed).", ["protocol", "source"], LATENCY_BUCKETS);
  const duration = histogram(register, "bitrouter_request_duration_seconds", "Whole request duration.", ["protocol", "source"], LATENCY_BUCKETS);
  const overhead = histogram(register, "bitrouter_overhead_seconds", "BitRouter's own time per request: time to the first byte minus time spent waiting on sources.", [], OVERHEAD_BUCKETS);
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
      requests.add([protocol, source, statusClass(event.status)]);
      for (const failed of event.failed) attempts.add([registry.sources.has(failed.provider) ? failed.provider : "other", "failed"]);
      if (served) {
        attempts.add([source, "served"]);
        if (event.failed.length > 0) failovers.add([protocol]);
        const model = served.declared ? served.upstreamModel : "other";
        if (event.usage) {
          const b = bucketsOf(event.usage);
          const add = (bucket: string, n: number) => n > 0 && tokens.add([source, model, bucket], n);
          add("input", b.input);
          add("cache_read", b.cacheRead);
          add("cache_write", b.cacheWrite);
          add("output", b.output);
          add("reasoning", b.reasoning);
        } else if (event.status === 200) missing.add([source]);
      }
      if (event.ttftMs !== undefined) ttft.observe([protocol, source], event.ttftMs / 1000);
      duration.observe([protocol, source], event.durationMs / 1000);
      if (event.overheadMs !== undefined) overhead.observe([], event.overheadMs / 1000);
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

/** Label values joined with a character no label value from the registry holds. */
const SEPARATOR = "\u0001";

/**
 * A counter kept as a map of label values to totals; prom-client's Counter reads it at scrape
 * time (reset, then one inc per series).
 */
function tally(register: PromRegistry, name: string, help: string, labelNames: string[]) {
  const totals = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [register],
    collect() {
      this.reset();
      for (const [key, value] of totals) this.inc(labelsOf(labelNames, key), value);
    },
  });
  return {
    add(values: string[], n = 1) {
      const key = values.join(SEPARATOR);
      totals.set(key, (totals.get(key) ?? 0) + n);
    },
  };
}

function labelsOf(names: string[], key: string): Record<string, string> {
  const values = key.split(SEPARATOR);
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? ""]));
}

/**
 * A histogram with the same exposition as prom-client's (cumulative `_bucket` series with `le`,
 * `_sum`, `_count`), registered as a custom metric: an observation is a bucket count bumped in
 * a typed array.
 */
function histogram(register: PromRegistry, name: string, help: string, labelNames: string[], buckets: number[]) {
  const series = new Map<string, { counts: Float64Array; sum: number; count: number }>();
  register.registerMetric({
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: async () => {
      const values: MetricValueWithName<string>[] = [];
      for (const [key, s] of series) {
        const labels = labelsOf(labelNames, key);
        let cumulative = 0;
        buckets.forEach((le, i) => {
          cumulative += s.counts[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: s.count });
        values.push({ metricName: `${name}_sum`, labels, value: s.sum });
        values.push({ metricName: `${name}_count`, labels, value: s.count });
      }
      return { name, help, type: "histogram", aggregator: "sum", values };
    },
  } as never);
  return {
    observe(values: string[], seconds: number) {
      const key = values.join(SEPARATOR);
      let s = series.get(key);
      if (!s) {
        s = { counts: new Float64Array(buckets.length), sum: 0, count: 0 };
        series.set(key, s);
      }
      const i = buckets.findIndex((le) => seconds <= le);
      if (i !== -1) s.counts[i]! += 1;
      s.sum += seconds;
      s.count += 1;
    },
  };
}
