// `bitrouter route <model>`: the chain a request for <model> would try, and why. Sends nothing
// upstream except model discovery for sources that declare no models (as the server does).
import { isProtocol, PROTOCOLS } from "../../config/schema.ts";
import { explainRoute } from "../../routing/explain.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs, UsageError } from "../args.ts";
import { loadDiscovered, loadOrReport } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const routeHelp = `Usage: bitrouter route <model> [-c PATH] [--protocol P] [--json]

Show the ordered candidates a request for <model> would try, and why each is there or was
skipped. --protocol is the client's protocol (default chat_completions); it decides which
wire protocol a source that speaks several is asked in.
`;

export async function routeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION, protocol: { type: "string" } }, 1);
  if (values.help) {
    io.stdout(routeHelp);
    return EXIT_OK;
  }
  const model = positionals[0];
  if (!model) throw new UsageError("route needs a model, e.g. `bitrouter route llama3.1`");
  const inbound = values.protocol ?? "chat_completions";
  if (!isProtocol(inbound)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(", ")}`);

  const registry = await loadOrReport(io, () => loadDiscovered(io, values.config));
  if (!registry) return EXIT_FAILURE;
  const explanation = explainRoute(registry, model, inbound);
  if (values.json) {
    io.stdout(`${JSON.stringify(explanation, null, 2)}\n`);
    return explanation.error ? EXIT_FAILURE : EXIT_OK;
  }
  if (explanation.error) {
    io.stderr(`${explanation.error.message}\n`);
    return EXIT_FAILURE;
  }
  const via = { provider: "provider:model", virtual: "virtual model", cascade: "bare-name cascade", "fallback-list": "fallback list" }[explanation.via ?? "cascade"];
  io.stdout(`${model} (${via}; config: ${registry.configPath ?? "built-in defaults"})\n`);
  explanation.chain.forEach((c, i) => {
    io.stdout(`  ${i + 1}. ${c.provider}  ${c.model}  [${c.protocol}]  ${c.url}\n       ${c.why}\n`);
  });
  for (const s of explanation.skipped) io.stdout(`  skipped: ${s.provider}  ${s.reason}\n`);
  return EXIT_OK;
}
