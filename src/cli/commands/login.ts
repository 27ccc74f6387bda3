// `bitrouter login <anthropic|openai-codex>` and `bitrouter logout <provider>`.
// Login: PKCE in the browser with the answer caught on a loopback port, or pasted back by hand
// on a machine without a browser; `--import` adopts a Claude Code or Codex CLI login instead.
import { createInterface } from "node:readline";
import { LABEL_PATTERN } from "../../config/schema.ts";
import { CredentialFileError } from "../../subscriptions/credentials.ts";
import { importLogin } from "../../subscriptions/import.ts";
import { authorizeUrl, type CallbackAnswer, exchangeCode, listenForCallback, OAuthError, parsePastedAnswer } from "../../subscriptions/oauth.ts";
import { isPlanId, PLAN_IDS, type PlanId, planFor } from "../../subscriptions/plans.ts";
import { describeLogin } from "../../sources/registry.ts";
import { HELP_OPTION, parseCommandArgs, UsageError } from "../args.ts";
import { credentialStore } from "../context.ts";
import { EXIT_FAILURE, EXIT_OK, type Io } from "../io.ts";

export const loginHelp = `Usage: bitrouter login <anthropic|openai-codex> [--label NAME] [--no-browser] [--import] [--timeout SECS]

Log in to a subscription so that anthropic:<model> / openai-codex:<model> (and bare names, after
self-hosted sources) run on the plan. The token is stored in $BITROUTER_HOME/credentials.json
(default ~/.bitrouter, mode 0600) and refreshed by the server before it expires.
      --label NAME   store this login as one more account of the plan (default: "default");
                     each account is tried per the provider's account_strategy (failover unless
                     set), and a conversation stays on the account that served it
      --no-browser   print the URL instead of opening a browser (open it anywhere, then paste
                     back the address the browser ends on, or the code)
      --import       adopt an existing Claude Code (~/.claude/.credentials.json) or Codex CLI
                     ($CODEX_HOME/auth.json) login instead
      --timeout SECS how long to wait for the answer (default 600)
`;

export const logoutHelp = `Usage: bitrouter logout <provider> [--label NAME]

Remove the stored logins of a subscription (anthropic, openai-codex): every account, or only
the one stored with --label NAME.
`;

export interface LoginEnvironment {
  /** Opens a URL in the user's browser; false when it could not. */
  openBrowser(url: string): boolean;
  /** Lines typed or pasted on standard input (empty when there is none). */
  stdinLines(): AsyncIterable<string> & { close(): void };
  fetch: (input: string, init: RequestInit) => Promise<Response>;
}

export const processLoginEnvironment: LoginEnvironment = {
  openBrowser(url) {
    const command = process.platform === "darwin" ? ["open", url] : process.platform === "win32" ? ["cmd", "/c", "start", "", url] : ["xdg-open", url];
    try {
      const child = Bun.spawn(command, { stdio: ["ignore", "ignore", "ignore"] });
      child.unref();
      return true;
    } catch {
      return false;
    }
  },
  stdinLines() {
    const rl = createInterface({ input: process.stdin, terminal: false });
    return {
      [Symbol.asyncIterator]: () => rl[Symbol.asyncIterator](),
      close() {
        rl.close();
        process.stdin.destroy();
      },
    };
  },
  fetch: (input, init) => fetch(input, init),
};

export async function loginCommand(argv: string[], io: Io, environment: LoginEnvironment = processLoginEnvironment): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...HELP_OPTION, ...LABEL_OPTION, "no-browser": { type: "boolean" }, import: { type: "boolean" }, timeout: { type: "string" } }, 1);
  if (values.help) {
    io.stdout(loginHelp);
    return EXIT_OK;
  }
  const planId = positionals[0];
  if (!planId) throw new UsageError(`login needs a plan: ${PLAN_IDS.join(" or ")}`);
  if (!isPlanId(planId)) throw new UsageError(`unknown plan '${planId}': use ${PLAN_IDS.join(" or ")}`);
  const timeoutSecs = values.timeout === undefined ? 600 : Number(values.timeout);
  if (!Number.isFinite(timeoutSecs) || timeoutSecs <= 0) throw new UsageError("--timeout must be a number of seconds");
  const label = checkedLabel(values.label);
  const store = credentialStore(io);
  const as = label === "default" ? "" : ` as account '${label}'`;

  try {
    if (values.import) {
      const { credential, from } = importLogin(planId, io.env, io.homeDir);
      store.put(planId, credential, label);
      io.stdout(`Imported the login from ${from}${as}: ${describeLogin(credential)}.\nStored in ${store.path} (mode 0600).\n`);
      return EXIT_OK;
    }
    const credential = await browserLogin(planId, io, environment, values["no-browser"] === true, timeoutSecs);
    store.put(planId, credential, label);
    io.stdout(`${planFor(planId, io.env).label}${as}: ${describeLogin(credential)}.\nStored in ${store.path} (mode 0600). A running bitrouter picks it up by itself.\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof OAuthError || err instanceof CredentialFileError) {
      io.stderr(`error: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}

async function browserLogin(planId: PlanId, io: Io, environment: LoginEnvironment, noBrowser: boolean, timeoutSecs: number) {
  const plan = planFor(planId, io.env);
  const listener = listenForCallback(plan);
  const lines = environment.stdinLines();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const { verifier, state, url } = await authorizeUrl(plan, listener.redirectUri);
    const opened = !noBrowser && environment.openBrowser(url.href);
    io.stderr(
      `${opened ? "Opened your browser to log in" : "Open this address in a browser to log in"} to ${plan.label}:\n\n${url.href}\n\n` +
        `Waiting for the answer on ${listener.redirectUri}.\n` +
        "On a machine without a browser: open the address anywhere, then paste here the address the browser ends on (or the code):\n",
    );
    const pasted = (async (): Promise<CallbackAnswer> => {
      for await (const line of lines) {
        const answer = parsePastedAnswer(line);
        if (answer) return answer;
        io.stderr("That is not an address with a code, nor a code; paste the whole address the browser ended on:\n");
      }
      return new Promise<CallbackAnswer>(() => {});
    })();
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OAuthError(`no answer within ${timeoutSecs}s; run the login again`)), timeoutSecs * 1000);
    });
    const answer = await Promise.race([listener.answer, pasted, timedOut]);
    if ("error" in answer) throw new OAuthError(`the login was not granted: ${answer.error}${answer.description ? ` (${answer.description})` : ""}`);
    if (answer.state !== undefined && answer.state !== state) throw new OAuthError("state mismatch: that answer belongs to another login attempt; run the login again and use its address");
    io.stderr("Got the answer; exchanging it for a token…\n");
    return await exchangeCode(plan, { code: answer.code, state, verifier, redirectUri: listener.redirectUri }, { fetch: environment.fetch });
  } finally {
    clearTimeout(timer);
    listener.stop();
    lines.close();
  }
}

export async function logoutCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...HELP_OPTION, ...LABEL_OPTION }, 1);
  if (values.help) {
    io.stdout(logoutHelp);
    return EXIT_OK;
  }
  const provider = positionals[0];
  if (!provider) throw new UsageError("logout needs a provider, e.g. `bitrouter logout anthropic`");
  if (!isPlanId(provider)) throw new UsageError(`'${provider}' is not a subscription plan; logins are stored for ${PLAN_IDS.join(" and ")}`);
  const label = values.label === undefined ? undefined : checkedLabel(values.label);
  const store = credentialStore(io);
  try {
    if (!store.remove(provider, label)) {
      const others = Object.keys(store.load()[provider] ?? {});
      io.stderr(`${provider}${label ? ` (account '${label}')` : ""}: no stored login${others.length > 0 ? `; stored accounts: ${others.join(", ")}` : ""}\n`);
      return EXIT_FAILURE;
    }
  } catch (err) {
    if (!(err instanceof CredentialFileError)) throw err;
    io.stderr(`error: ${err.message}\n`);
    return EXIT_FAILURE;
  }
  io.stdout(label ? `Logged out of ${provider} account '${label}'; its stored token is removed from ${store.path}.\n` : `Logged out of ${provider}; its stored tokens are removed from ${store.path}.\n`);
  return EXIT_OK;
}

const LABEL_OPTION = { label: { type: "string" } } as const;

/** A label names an account in config, logs and headers: the config's rule. */
function checkedLabel(label: string | undefined): string {
  if (label === undefined) return "default";
  if (!LABEL_PATTERN.test(label)) throw new UsageError(`--label '${label}': use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit`);
  return label;
}
