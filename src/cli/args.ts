// util.parseArgs per command, with its errors turned into usage errors (exit 2).
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandArgs<O extends OptionSpec>(argv: string[], options: O, maxPositionals = 0) {
  try {
    const parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
    return parsed;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const message = (err as Error).message.split(/\. To specify/)[0] ?? String(err);
    throw new UsageError(message);
  }
}

export const CONFIG_OPTION = { config: { type: "string", short: "c" } } as const;
export const JSON_OPTION = { json: { type: "boolean" } } as const;
export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;
