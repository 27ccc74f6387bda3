// `bitrouter route <model>`: the chain a request for <model> would try, and why. Asks the running
// server first (its order includes the targets it is cooling and the plan windows it has read);
// without one, works from the config, sending nothing upstream except model discovery for
// sources that declare no models (as the server does).
import { isProtocol, PROTOCOLS } from "../../config/schema.ts";
import { explainRoute, type RouteExplanation } from "../../routing/explain.ts";
import { askServer } from "../server-client.ts";
import { localTime } from "./status.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs, UsageError } from "../args.ts";
import { loadDiscovered, loadOrReport } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const routeHelp = `Usage: bitrouter route <model> [-c PATH] [--protocol P] [--session KEY] [--url URL] [--json]

Show the ordered targets (source, model, account) a request for <model> would try, and why each
is there, moved back (cooling, a plan window past spill_at) or skipped. The running BitRouter
(on the configured address, or --url; its key from server.api_keys or $BITROUTER_KEY) is asked
when there is one, so the order is the one its next request would get (round-robin position
included); otherwise the configured order is shown. --protocol is the client's protocol
(default chat_completions); it decides which wire protocol a source that speaks several is
asked in. --session is a conversation key (Claude Code's metadata.user_id, Codex's session id,
a prompt_cache_key): the order then keeps that conversation's account first.
`;

export async function routeCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION, protocol: { type: "string" }, url: { type: "string" }, session: { type: "string" } }, 1);
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
  const session = values.session ? `&session=${encodeURIComponent(values.session)}` : "";
  const asked = await askServer<RouteExplanation>(registry, `/bitrouter/route?model=${encodeURIComponent(model)}&protocol=${inbound}${session}`, {
    url: values.url,
    env: io.env,
    // An unknown model is the server's own 404 explanation, an answer like any other.
    accept: [404, 503],
    looksRight: (body) => typeof body === "object" && body !== null && Array.isArray((body as RouteExplanation).chain) && typeof (body as RouteExplanation).model === "string",
  });
  const explanation = asked.ok ? asked.body : explainRoute(registry, model, inbound, undefined, Date.now(), values.session);
  // Said once, where it cannot be missed: the order below is not the server's.
  if (!asked.ok && asked.url && !asked.reason.startsWith("nothing answers")) io.stderr(`note: the server at ${asked.url} could not be asked (${asked.reason}); this is the configured order\n`);
  if (values.json) {
    io.stdout(`${JSON.stringify(explanation, null, 2)}\n`);
    return explanation.error ? EXIT_FAILURE : EXIT_OK;
  }
  if (explanation.error) {
    io.stderr(`${explanation.error.message}\n`);
    return EXIT_FAILURE;
  }
  const via = { provider: "provider:model", virtual: "virtual model", cascade: "bare-name cascade", "fallback-list": "fallback list" }[explanation.via ?? "cascade"];
  const source = asked.ok ? `as the server at ${asked.url} would route its next request` : asked.reason.startsWith("nothing answers") ? "the configured order; no server runs there" : "the configured order";
  io.stdout(`${model} (${via}; config: ${explanation.config ?? "built-in defaults"}; ${source})\n`);
  // An account is named when it is not the only one of its source in the chain.
  const labels = new Map<string, Set<string>>();
  for (const c of explanation.chain) labels.set(c.provider, (labels.get(c.provider) ?? new Set()).add(c.account));
  explanation.chain.forEach((c, i) => {
    const account = c.account !== "default" || labels.get(c.provider)!.size > 1 ? `  account ${c.account}` : "";
    io.stdout(`  ${i + 1}. ${c.provider}  ${c.model}${account}  [${c.protocol}]  ${c.url}\n       ${c.why}\n`);
    if (c.demoted) io.stdout(`       demoted${c.demoted.until ? ` until ${localTime(c.demoted.until)}` : ""}: ${c.demoted.reason}\n`);
    if (c.probe) io.stdout("       cooled; the next request to reach it probes it\n");
  });
  for (const s of explanation.skipped) io.stdout(`  skipped: ${s.provider}  ${s.reason}\n`);
  return EXIT_OK;
}
