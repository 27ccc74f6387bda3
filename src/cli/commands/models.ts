// `bitrouter models`: every routable model: virtual models, then each bare model id.
import { listModels } from "../../server/routes/models.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs } from "../args.ts";
import { loadDiscovered, loadOrReport } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const modelsHelp = `Usage: bitrouter models [-c PATH] [--json]

List every routable model: virtual models first, then each model id with the sources that
serve it, in cascade order. Sources that declare no models are asked for theirs.
`;

export async function modelsCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION });
  if (values.help) {
    io.stdout(modelsHelp);
    return EXIT_OK;
  }
  const registry = await loadOrReport(io, () => loadDiscovered(io, values.config));
  if (!registry) return EXIT_FAILURE;
  const models = listModels(registry);
  if (values.json) {
    io.stdout(`${JSON.stringify({ models: models.map(({ id, providers, context_length }) => ({ id, virtual: registry.virtualModels.has(id), providers, context_length })) }, null, 2)}\n`);
    return EXIT_OK;
  }
  if (models.length === 0) {
    io.stderr("no routable models: no source is active (see `bitrouter status`)\n");
    return EXIT_OK;
  }
  const width = Math.max(...models.map((m) => m.id.length));
  for (const model of models) {
    const tag = registry.virtualModels.has(model.id) ? "virtual → " : "";
    io.stdout(`${model.id.padEnd(width)}  ${tag}${model.providers.join(", ")}\n`);
  }
  return EXIT_OK;
}
