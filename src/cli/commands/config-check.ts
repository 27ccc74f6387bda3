// `bitrouter config check [-c PATH]`: validate; report every problem, unset variables and
// ignored keys. Exit 0 when the file is valid, 1 otherwise.
import { ConfigError, formatProblem, loadConfig } from "../../config/load.ts";
import { buildRegistry } from "../../sources/registry.ts";
import { CONFIG_OPTION, HELP_OPTION, JSON_OPTION, parseCommandArgs } from "../args.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";
import { printConfigError, storedLogins } from "../context.ts";

export const configCheckHelp = `Usage: bitrouter config check [-c PATH] [--json]

Validate the config: every problem at once with its line and column, unset environment
variables (their providers will be inactive) and keys of the original BitRouter that are ignored.
`;

export async function configCheckCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...JSON_OPTION, ...HELP_OPTION });
  if (values.help) {
    io.stdout(configCheckHelp);
    return EXIT_OK;
  }
  try {
    const loaded = loadConfig({ explicit: values.config, cwd: io.cwd, env: io.env, homeDir: io.homeDir });
    // With the stored logins, as the server builds it: a logged-in plan is not "inactive".
    const registry = buildRegistry(loaded, io.env, storedLogins(io));
    const inactive = [...registry.sources.values()].filter((s) => s.configured && !s.active);
    const unusableAccounts = [...registry.sources.values()].filter((s) => s.active && s.multiAccount).flatMap((s) => s.accounts.filter((a) => !a.active).map((a) => ({ provider: s.id, account: a.label, reason: a.reason })));
    if (values.json) {
      io.stdout(
        `${JSON.stringify(
          {
            valid: true,
            path: loaded.path,
            providers: Object.keys(loaded.config.providers ?? {}).length,
            models: registry.virtualModels.size,
            warnings: loaded.warnings,
            unset: [...new Set(loaded.unset.map((u) => u.name))],
            inactive: inactive.map((s) => ({ provider: s.id, reason: s.reason })),
            unusable_accounts: unusableAccounts,
          },
          null,
          2,
        )}\n`,
      );
      return EXIT_OK;
    }
    for (const warning of loaded.warnings) io.stderr(`${formatProblem(warning)}\n`);
    for (const source of inactive) io.stderr(`note: provider '${source.id}' will be inactive: ${source.reason}\n`);
    for (const a of unusableAccounts) io.stderr(`note: account '${a.account}' of provider '${a.provider}' will not be used: ${a.reason}\n`);
    if (loaded.path === null) io.stdout("no config file found; built-in defaults are valid\n");
    else io.stdout(`${loaded.path}: valid (${count(Object.keys(loaded.config.providers ?? {}).length, "provider")}, ${count(registry.virtualModels.size, "virtual model")})\n`);
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (values.json) {
      io.stdout(`${JSON.stringify({ valid: false, errors: err.problems, warnings: err.warnings }, null, 2)}\n`);
    } else {
      printConfigError(io, err, "found.");
    }
    return EXIT_FAILURE;
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
