// argv → command. Each command is a function (argv, io) → exit code.
import { VERSION } from "../version.ts";
import { UsageError } from "./args.ts";
import { configCheckCommand, configCheckHelp } from "./commands/config-check.ts";
import { initCommand, initHelp } from "./commands/init.ts";
import { loginCommand, loginHelp, logoutCommand, logoutHelp } from "./commands/login.ts";
import { modelsCommand, modelsHelp } from "./commands/models.ts";
import { routeCommand, routeHelp } from "./commands/route.ts";
import { serveCommand, serveHelp } from "./commands/serve.ts";
import { statusCommand, statusHelp } from "./commands/status.ts";
import { usageCommand, usageHelp } from "./commands/usage.ts";
import { closestMatches } from "../did-you-mean.ts";
import { messageOf } from "../errors.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Io } from "./io.ts";

interface Command {
  summary: string;
  help: string;
  run: (argv: string[], io: Io) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve: { summary: "start the proxy (the default when no command is given)", help: serveHelp, run: serveCommand },
  init: { summary: "write a commented starter bitrouter.yaml", help: initHelp, run: initCommand },
  models: { summary: "list every routable model", help: modelsHelp, run: modelsCommand },
  route: { summary: "show the candidate chain for a model, and why", help: routeHelp, run: routeCommand },
  "config check": { summary: "validate the config", help: configCheckHelp, run: configCheckCommand },
  login: { summary: "log in to a subscription (anthropic, openai-codex)", help: loginHelp, run: loginCommand },
  logout: { summary: "remove a subscription's stored login", help: logoutHelp, run: logoutCommand },
  status: { summary: "sources and their state; whether the server answers", help: statusHelp, run: statusCommand },
  usage: { summary: "where the tokens went: by day, model, source, account or plan window", help: usageHelp, run: usageCommand },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `bitrouter ${VERSION}: one local endpoint for every model source

Usage: bitrouter [command] [options]

Commands:
${lines.join("\n")}
  ${"help".padEnd(width)}  show this help, or \`help <command>\`

Options: --version, and --help on every command.
`;
}

/** Whether these arguments start the server (bare `bitrouter`, flags only, or `serve`). */
export function startsServer(argv: string[]): boolean {
  const [first] = argv;
  if (argv.includes("--help") || argv.includes("-h")) return false;
  return first === undefined || first === "serve" || (first.startsWith("-") && first !== "--version" && first !== "-v");
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [first, second] = argv;
  if (first === "--version" || first === "-v" || first === "version") {
    io.stdout(`bitrouter ${VERSION}\n`);
    return EXIT_OK;
  }
  if (first === "help" || first === "--help" || first === "-h") {
    const topic = argv.slice(1).join(" ");
    const command = COMMANDS[topic];
    io.stdout(command ? command.help : usage());
    return EXIT_OK;
  }

  let name: string;
  let rest: string[];
  if (first === undefined || first.startsWith("-")) {
    name = "serve";
    rest = argv;
  } else if (first === "config") {
    // `config` alone, or with --help, means its one subcommand's help.
    if (second === undefined || second === "--help" || second === "-h") {
      io.stdout(configCheckHelp);
      return second === undefined ? EXIT_USAGE : EXIT_OK;
    }
    name = `config ${second}`;
    rest = argv.slice(2);
  } else {
    name = first;
    rest = argv.slice(1);
  }
  const command = COMMANDS[name];
  if (!command) {
    const close = closestMatches(name, [...Object.keys(COMMANDS), "help"], 1)[0];
    io.stderr(`error: unknown command '${name}'${close ? `; did you mean '${close}'?` : ""}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`error: ${err.message}\n\n${command.help}`);
      return EXIT_USAGE;
    }
    // The last net: a failure no command foresaw is one line for the user, never a stack trace.
    io.stderr(`error: ${name} failed: ${messageOf(err)}\n`);
    return EXIT_FAILURE;
  }
}
