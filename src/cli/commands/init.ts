// `bitrouter init [-c PATH] [--force]`: write the commented starter config.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { messageOf } from "../../errors.ts";
import { dirname, isAbsolute, resolve } from "node:path";
import starter from "../../config/starter.yaml" with { type: "text" };
import { CONFIG_OPTION, HELP_OPTION, parseCommandArgs } from "../args.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const initHelp = `Usage: bitrouter init [-c PATH] [--force]

Write a commented starter config (default ./bitrouter.yaml): loopback listen, skip_auth: true,
and commented examples for an aggregator, Ollama, vLLM and a virtual model.
  -c, --config PATH   where to write it
      --force         overwrite an existing file
`;

export async function initCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { ...CONFIG_OPTION, ...HELP_OPTION, force: { type: "boolean" } });
  if (values.help) {
    io.stdout(initHelp);
    return EXIT_OK;
  }
  const target = values.config ?? "bitrouter.yaml";
  const path = isAbsolute(target) ? target : resolve(io.cwd, target);
  if (existsSync(path) && !values.force) {
    io.stderr(`error: ${path} already exists; nothing was written.\n    fix: pass --force to overwrite it, or -c to write elsewhere\n`);
    return EXIT_FAILURE;
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, starter);
  } catch (err) {
    io.stderr(`error: cannot write ${path}: ${messageOf(err)}\n    fix: pass -c with a path in a folder you can write to\n`);
    return EXIT_FAILURE;
  }
  io.stdout(`wrote ${path}

Next steps:
  1. Uncomment a provider in it, or export a key (e.g. OPENROUTER_API_KEY).
  2. bitrouter config check -c ${target}
  3. bitrouter -c ${target}          # serves on 127.0.0.1:4356
  4. curl http://127.0.0.1:4356/v1/chat/completions -H 'content-type: application/json' \\
       -d '{"model":"openrouter:openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}'
`);
  return EXIT_OK;
}
