// `bitrouter status`: sources with their state, reason and accounts, the subscription logins,
// the local servers detected, and, from the running server, what it remembers: targets cooling
// and each plan account's quota windows.
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs } from "../args.ts";
import { PLAN_IDS } from "../../subscriptions/plans.ts";
import { describeLogin } from "../../sources/registry.ts";
import { isoTime, type StatusReport } from "../../state/report.ts";
import { percent } from "../../windows/window.ts";
import { loadDiscovered, loadOrReport, storedLogins } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io, printable } from "../io.ts";
import { askServer } from "../server-client.ts";

export const statusHelp = `Usage: bitrouter status [-c PATH] [--url URL] [--json]

Show each source with its state, reason and accounts; the subscription logins (who, which plan,
until when; never a token); the local model servers detected; and, from the running BitRouter
(on the configured listen address, or --url; its key from server.api_keys or $BITROUTER_KEY),
the targets it is cooling and each plan's quota windows (utilisation, status, reset time and
countdown).
`;

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION, url: { type: "string" } });
  if (values.help) {
    io.stdout(statusHelp);
    return EXIT_OK;
  }
  const registry = await loadOrReport(io, () => loadDiscovered(io, values.config, { discover: false }));
  if (!registry) return EXIT_FAILURE;
  // "Active" means configured; a configured local server that is not running would make that
  // claim misleading, so self-hosted sources are asked too (in parallel, bounded).
  const [live, ...reachable] = await Promise.all([
    askServer<StatusReport>(registry, "/bitrouter/status", { url: values.url, env: io.env, looksRight: isStatusReport }),
    ...[...registry.sources.values()].map((s) => (s.active && s.kind === "self-hosted" && s.modelsFrom !== "detection" ? answers(`${s.apiBase}/models`, 400, true) : Promise.resolve(undefined))),
  ]);
  const running = live.ok || (live.url !== undefined && (await answers(`${live.url}/health`)));
  const sources = [...registry.sources.values()].map((s, i) => ({
    provider: s.id,
    kind: s.kind,
    active: s.active,
    reason: reachable[i] === false ? `${s.reason}; but nothing answers at ${s.apiBase} (requests to it fail over)` : s.reason,
    ...(reachable[i] !== undefined ? { reachable: reachable[i] } : {}),
    api_base: s.apiBase,
    models: s.models.length,
    ...(s.multiAccount ? { account_strategy: s.accountStrategy, accounts: s.accounts.map((a) => ({ label: a.label, active: a.active, reason: a.reason, ...(a.apiBase ? { api_base: a.apiBase } : {}) })) } : {}),
  }));
  const detected = [...registry.sources.values()]
    .filter((s) => s.modelsFrom === "detection")
    .map((s) => ({ provider: s.id, api_base: s.apiBase, reason: s.reason, models: s.models.map((m) => ({ id: m.id, context_length: m.contextLength ?? null, capabilities: m.capabilities ?? [] })) }));
  const logins = storedLogins(io);
  const now = Date.now();
  const subscriptions = PLAN_IDS.flatMap((plan): SubscriptionLine[] => {
    const labels = Object.keys(logins[plan] ?? {}).sort((a, b) => Number(b === "default") - Number(a === "default") || a.localeCompare(b));
    if (labels.length === 0) return [{ provider: plan, label: null, logged_in: false, state: `not logged in (run \`bitrouter login ${plan}\`)` }];
    return labels.map((label) => {
      const login = logins[plan]![label]!;
      return {
        provider: plan,
        label,
        logged_in: true,
        account: login.account?.email ?? null,
        plan: login.account?.plan ?? null,
        expires_at: login.expires_at ? isoTime(login.expires_at * 1000) : null,
        expired: login.expires_at !== 0 && login.expires_at * 1000 <= now,
        obtained_via: login.obtained_via ?? null,
        state: describeLogin(login, now),
      };
    });
  });
  if (values.json) {
    const server = live.ok ? { url: live.url, health: live.body.health, plans: live.body.plans, health_policy: live.body.health_policy, spill_at: live.body.spill_at } : { url: live.url ?? null, error: live.reason };
    io.stdout(`${JSON.stringify({ config: registry.configPath, listen: registry.settings.listen, running, sources, subscriptions, detected, server }, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout(`config:  ${registry.configPath ?? "built-in defaults"}\n`);
  const answered = !live.ok && live.reason.startsWith("it answered");
  io.stdout(`server:  ${live.url ?? registry.settings.listen} ${live.ok ? "answers" : answered ? live.reason.replace(/^it /, "") : running ? "answers" : "does not answer (not running?)"}\n`);
  if (values.url) io.stdout("note:    sources and subscriptions below are from this machine's config; health and plans from the server at --url\n");
  io.stdout("sources:\n");
  const width = Math.max(...sources.map((s) => s.provider.length));
  for (const s of sources) {
    io.stdout(`  ${s.provider.padEnd(width)}  ${s.active ? "active  " : "inactive"}  ${s.kind}  ${s.reason}${s.accounts ? `  (accounts: ${s.account_strategy})` : ""}\n`);
    const labelWidth = Math.max(0, ...(s.accounts ?? []).map((a) => a.label.length));
    for (const a of s.accounts ?? []) io.stdout(`  ${" ".repeat(width)}    ${a.label.padEnd(labelWidth)}  ${a.active ? "" : "unusable: "}${a.reason}\n`);
  }
  io.stdout("subscriptions:\n");
  const subWidth = Math.max(...subscriptions.map((s) => name(s.provider, s.label).length));
  for (const s of subscriptions) io.stdout(`  ${name(s.provider, s.label).padEnd(subWidth)}  ${s.state}\n`);
  if (live.ok) printLive(io, live.body);
  else io.stdout(`health and plan windows: known only to a running BitRouter; ${live.url ?? "the configured address"}: ${live.reason}\n`);
  io.stdout(detected.length > 0 ? "detected local servers:\n" : "detected local servers: none (Ollama 11434, vLLM 8000, llama.cpp 8080, LM Studio 1234 were probed)\n");
  for (const d of detected) {
    io.stdout(`  ${d.provider}  ${d.api_base}  ${d.reason}\n`);
    for (const m of d.models) io.stdout(`    ${m.id}${m.context_length ? `  context ${m.context_length}` : ""}${m.capabilities.length ? `  ${m.capabilities.join(",")}` : ""}\n`);
  }
  return EXIT_OK;
}

interface SubscriptionLine {
  provider: string;
  label: string | null;
  logged_in: boolean;
  account?: string | null;
  plan?: string | null;
  expires_at?: string | null;
  expired?: boolean;
  obtained_via?: string | null;
  state: string;
}

function isStatusReport(body: unknown): boolean {
  const report = body as Partial<StatusReport> | null;
  return typeof report === "object" && report !== null && typeof report.health_policy === "object" && Array.isArray(report.health) && Array.isArray(report.plans);
}

function name(provider: string, label: string | null): string {
  return label === null || label === "default" ? provider : `${provider} (${label})`;
}

function printLive(io: Io, report: StatusReport): void {
  if (report.shared) {
    io.stdout(`state:   shared through ${printable(report.shared.redis)} (prefix ${printable(report.shared.prefix)}), ${report.shared.up ? "connected" : "unreachable: this instance goes on with its own until it answers"}\n`);
  }
  const policy = report.health_policy;
  if (!policy.enabled) io.stdout("health:  off (health: false in the config)\n");
  else {
    io.stdout(`health:  (allowed_fails ${policy.allowed_fails}, cooldown ${policy.cooldown_min_secs}s to ${policy.cooldown_max_secs}s)\n`);
    if (report.health.length === 0) io.stdout("  every target is ok\n");
    for (const h of report.health) {
      const when = h.until ? ` until ${localTime(h.until)} (${countdown(h.in_secs)})` : "";
      const state = h.state === "failing" ? `ok, ${h.failures} failure${h.failures === 1 ? "" : "s"} in a row` : h.state === "due" ? "cooled, next request probes it" : h.state;
      io.stdout(`  ${h.provider}  ${printable(h.model)}  ${h.account}  ${state}${h.state === "due" || h.state === "failing" ? "" : when}: ${printable(h.reason)}\n`);
    }
  }
  if (report.plans.length === 0) return;
  io.stdout(`plans:   (spill_at ${percent(report.spill_at)}: an account past it serves after the other sources until its window resets)\n`);
  for (const p of report.plans) {
    const head = `  ${name(p.provider, p.account)}`;
    if (p.status === null) {
      io.stdout(`${head}  no window figures seen yet since the server started\n`);
      continue;
    }
    const until = p.demoted?.until ? ` until ${localTime(p.demoted.until)} (${countdown(p.demoted.in_secs)})` : "";
    const demoted = p.demoted ? `  demoted${until}: ${p.demoted.reason}` : "  serving first";
    io.stdout(`${head}  ${p.status}${p.stale ? " (its reset has passed)" : ""}${demoted}\n`);
    const label = (w: StatusReport["plans"][number]["windows"][number]) => (/^\d+m$/.test(w.name) && w.minutes ? `${w.name} (${length(w.minutes)})` : w.name);
    const nameWidth = Math.max(0, ...p.windows.map((w) => label(w).length));
    for (const w of p.windows) {
      const used = w.utilization === null ? "    ?" : percent(w.utilization).padStart(5);
      const reset = !w.resets_at ? "" : w.in_secs === 0 ? `reset at ${localTime(w.resets_at)} (passed; the next answer gives new figures)` : `resets ${localTime(w.resets_at)} (${countdown(w.in_secs)})`;
      io.stdout(`    ${label(w).padEnd(nameWidth)}  ${bar(w.utilization)} ${used}  ${(w.status ?? "").padEnd(15)}  ${reset}\n`);
    }
    const notes = Object.entries(p.notes).map(([k, v]) => `${k}=${v}`);
    if (notes.length > 0) io.stdout(`    ${notes.join("  ")}\n`);
  }
}

/** 300 → `5h`, 10080 → `7d`, 90 → `90min`. */
function length(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}min`;
}

/** A 20-cell text bar, readable without colour. */
function bar(utilization: number | null): string {
  const cells = 20;
  const filled = utilization === null ? 0 : Math.max(0, Math.min(cells, Math.round(utilization * cells)));
  return `[${"#".repeat(filled)}${"-".repeat(cells - filled)}]`;
}

/** `2026-11-30 16:00:00` in the machine's time zone. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** `in 1h 12m`, `in 45s`, `in 3d 4h`, `now`. */
export function countdown(secs: number | null): string {
  if (secs === null) return "unknown";
  if (secs <= 0) return "now";
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  if (d > 0) return `in ${d}d ${h}h`;
  if (h > 0) return `in ${h}h ${m}m`;
  if (m > 0) return `in ${m}m ${s}s`;
  return `in ${s}s`;
}

/** Whether `url` answers within `ms` (with a 2xx, or with any status when `anyStatus`). */
async function answers(url: string, ms = 1000, anyStatus = false): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    const response = await fetch(url, { signal: controller.signal });
    await response.body?.cancel();
    return anyStatus || response.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
