// `bitrouter status`: sources with their state and reason, and whether a server answers on
// the configured address.
import { parseListen } from "../../config/listen.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs } from "../args.ts";
import { PLAN_IDS } from "../../subscriptions/plans.ts";
import { describeLogin } from "../../sources/registry.ts";
import { loadDiscovered, loadOrReport, storedLogins } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const statusHelp = `Usage: bitrouter status [-c PATH] [--json]

Show each source with its state and the reason, the subscription logins (who, which plan, until
when; never a token), the local model servers detected with their models, and whether a
BitRouter answers on the configured listen address.
`;

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION });
  if (values.help) {
    io.stdout(statusHelp);
    return EXIT_OK;
  }
  const registry = await loadOrReport(io, () => loadDiscovered(io, values.config, { discover: false }));
  if (!registry) return EXIT_FAILURE;
  const listen = parseListen(registry.settings.listen);
  const host = listen?.host.includes(":") ? `[${listen.host}]` : listen?.host;
  const healthUrl = listen ? `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${listen.port}/health` : undefined;
  // "Active" means configured; a configured local server that is not running would make that
  // claim misleading, so self-hosted sources are asked too (in parallel, bounded).
  const [running, ...reachable] = await Promise.all([
    healthUrl ? answers(healthUrl) : false,
    ...[...registry.sources.values()].map((s) => (s.active && s.kind === "self-hosted" && s.modelsFrom !== "detection" ? answers(`${s.apiBase}/models`, 400, true) : Promise.resolve(undefined))),
  ]);
  const sources = [...registry.sources.values()].map((s, i) => ({
    provider: s.id,
    kind: s.kind,
    active: s.active,
    reason: reachable[i] === false ? `${s.reason}; but nothing answers at ${s.apiBase} (requests to it fail over)` : s.reason,
    ...(reachable[i] !== undefined ? { reachable: reachable[i] } : {}),
    api_base: s.apiBase,
    models: s.models.length,
  }));
  const detected = [...registry.sources.values()]
    .filter((s) => s.modelsFrom === "detection")
    .map((s) => ({ provider: s.id, api_base: s.apiBase, reason: s.reason, models: s.models.map((m) => ({ id: m.id, context_length: m.contextLength ?? null, capabilities: m.capabilities ?? [] })) }));
  const logins = storedLogins(io);
  const now = Date.now();
  const subscriptions = PLAN_IDS.map((plan) => {
    const login = logins[plan]?.default;
    if (!login) return { provider: plan, logged_in: false, state: `not logged in (run \`bitrouter login ${plan}\`)` };
    return {
      provider: plan,
      logged_in: true,
      account: login.account?.email ?? null,
      plan: login.account?.plan ?? null,
      expires_at: login.expires_at ? new Date(login.expires_at * 1000).toISOString() : null,
      expired: login.expires_at !== 0 && login.expires_at * 1000 <= now,
      obtained_via: login.obtained_via ?? null,
      state: describeLogin(login, now),
    };
  });
  if (values.json) {
    io.stdout(`${JSON.stringify({ config: registry.configPath, listen: registry.settings.listen, running, sources, subscriptions, detected }, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout(`config:  ${registry.configPath ?? "built-in defaults"}\n`);
  io.stdout(`server:  ${registry.settings.listen} ${running ? "answers" : "does not answer (not running?)"}\n`);
  io.stdout("sources:\n");
  const width = Math.max(...sources.map((s) => s.provider.length));
  for (const s of sources) {
    io.stdout(`  ${s.provider.padEnd(width)}  ${s.active ? "active  " : "inactive"}  ${s.kind}  ${s.reason}\n`);
  }
  io.stdout("subscriptions:\n");
  for (const s of subscriptions) io.stdout(`  ${s.provider.padEnd(width)}  ${s.state}\n`);
  io.stdout(detected.length > 0 ? "detected local servers:\n" : "detected local servers: none (Ollama 11434, vLLM 8000, llama.cpp 8080, LM Studio 1234 were probed)\n");
  for (const d of detected) {
    io.stdout(`  ${d.provider}  ${d.api_base}  ${d.reason}\n`);
    for (const m of d.models) io.stdout(`    ${m.id}${m.context_length ? `  context ${m.context_length}` : ""}${m.capabilities.length ? `  ${m.capabilities.join(",")}` : ""}\n`);
  }
  return EXIT_OK;
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
