// `bitrouter status`: sources with their state and reason, and whether a server answers on
// the configured address.
import { parseListen } from "../../config/listen.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs } from "../args.ts";
import { loadOrReport, loadRegistry } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const statusHelp = `Usage: bitrouter status [-c PATH] [--json]

Show each source with its state and the reason, and whether a BitRouter answers on the
configured listen address.
`;

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION });
  if (values.help) {
    io.stdout(statusHelp);
    return EXIT_OK;
  }
  const registry = await loadOrReport(io, () => loadRegistry(io, values.config).registry);
  if (!registry) return EXIT_FAILURE;
  const listen = parseListen(registry.settings.listen);
  const host = listen?.host.includes(":") ? `[${listen.host}]` : listen?.host;
  const healthUrl = listen ? `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${listen.port}/health` : undefined;
  const running = healthUrl ? await answers(healthUrl) : false;
  const sources = [...registry.sources.values()].map((s) => ({
    provider: s.id,
    kind: s.kind,
    active: s.active,
    reason: s.reason,
    api_base: s.apiBase,
    models: s.models.length,
  }));
  if (values.json) {
    io.stdout(`${JSON.stringify({ config: registry.configPath, listen: registry.settings.listen, running, sources }, null, 2)}\n`);
    return EXIT_OK;
  }
  io.stdout(`config:  ${registry.configPath ?? "built-in defaults"}\n`);
  io.stdout(`server:  ${registry.settings.listen} ${running ? "answers" : "does not answer (not running?)"}\n`);
  io.stdout("sources:\n");
  const width = Math.max(...sources.map((s) => s.provider.length));
  for (const s of sources) {
    io.stdout(`  ${s.provider.padEnd(width)}  ${s.active ? "active  " : "inactive"}  ${s.kind}  ${s.reason}\n`);
  }
  return EXIT_OK;
}

async function answers(url: string): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 1000);
  try {
    const response = await fetch(url, { signal: controller.signal });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
