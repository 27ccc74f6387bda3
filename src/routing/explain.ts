// What `bitrouter route <model>` and GET /bitrouter/route?model= show: the targets a request
// would walk, in order, why each is there (and why one was moved back), and why each other
// source is not in the chain. Asked of a running server, the order includes what it remembers
// (cooling targets, plan windows); asked of the config alone, it is the configured order.
import type { Protocol } from "../config/schema.ts";
import { BitRouterError } from "../errors.ts";
import type { Registry } from "../sources/registry.ts";
import { isoTime } from "../state/report.ts";
import { createMemoryState, type TargetState } from "../state/target-state.ts";
import { orderTargets } from "./order.ts";
import { resolveModel, type Skipped } from "./resolve.ts";

export interface RouteExplanation {
  model: string;
  via?: "provider" | "virtual" | "cascade" | "fallback-list";
  config: string | null;
  /** Whether the order includes a running server's memory (health, windows). */
  live: boolean;
  chain: {
    provider: string;
    model: string;
    account: string;
    protocol: Protocol;
    url: string;
    why: string;
    /** Moved behind the targets that may serve first: why, and until when (ISO; null = until a probe succeeds). */
    demoted?: { reason: string; until: string | null };
    /** Its cooling has run out: the next request to reach it probes it. */
    probe?: true;
  }[];
  skipped: Skipped[];
  error?: { status: number; message: string };
}

/** `session`: the conversation key a request would carry (its affinity shows in the order). */
export function explainRoute(registry: Registry, model: string, inbound: Protocol, state?: TargetState, now = Date.now(), session?: string): RouteExplanation {
  const live = state !== undefined;
  try {
    const resolution = resolveModel(registry, model, inbound);
    const targets = orderTargets(resolution.candidates, { state: state ?? createMemoryState(), settings: registry.settings, now, session, rotate: false });
    return {
      model,
      via: resolution.via,
      config: registry.configPath,
      live,
      chain: targets.map((t) => ({
        provider: t.source.id,
        model: t.upstreamModel,
        account: t.account.label,
        protocol: t.protocol,
        url: t.apiBase,
        why: t.accountWhy ? `${t.why}; ${t.accountWhy}` : t.why,
        ...(t.demoted ? { demoted: { reason: t.demoted.reason, until: isoTime(t.demoted.until) } } : {}),
        ...(t.probe ? { probe: true as const } : {}),
      })),
      skipped: resolution.skipped,
    };
  } catch (err) {
    if (!(err instanceof BitRouterError)) throw err;
    return { model, config: registry.configPath, live, chain: [], skipped: [], error: { status: err.status, message: err.message } };
  }
}
