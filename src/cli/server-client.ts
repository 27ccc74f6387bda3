// Asking the running server (the one on the configured listen address, or --url) for what only
// it knows: health, plan windows, affinity. Bounded, so a command never hangs on a dead port.
import type { Registry } from "../sources/registry.ts";
import { parseListen } from "../config/listen.ts";
import { UsageError } from "./args.ts";

export type ServerAnswer<T> = { ok: true; url: string; status: number; body: T } | { ok: false; url: string | undefined; reason: string };

export interface AskOptions {
  /** --url: the server's root (a trailing /v1, the base URL clients use, is accepted). */
  url?: string;
  /** The key to present when the server has auth on; default the config's first, else $BITROUTER_KEY. */
  env?: Record<string, string | undefined>;
  /** Statuses besides 2xx whose JSON body is an answer (a route explanation's 404). */
  accept?: number[];
  /** Whether the body is what this path of BitRouter answers (else: not BitRouter there). */
  looksRight: (body: unknown) => boolean;
  timeoutMs?: number;
}

/** The base URL of the server the config describes (a wildcard listen is asked on loopback). */
function serverUrl(registry: Registry, override?: string): string | undefined {
  if (override !== undefined) {
    let url: URL;
    try {
      url = new URL(override);
    } catch {
      throw new UsageError(`--url '${override}' is not a URL; give the server's address, e.g. http://127.0.0.1:4356`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url '${override}' is not an http(s) URL`);
    // Credentials in a URL would be printed back; a query or fragment has no meaning here.
    if (url.username || url.password || url.search || url.hash) throw new UsageError(`--url takes the server's address only (scheme, host, port), e.g. http://127.0.0.1:4356; put a key in BITROUTER_KEY`);
    return url.href.replace(/\/+$/, "").replace(/\/v1$/, "");
  }
  const listen = parseListen(registry.settings.listen);
  if (!listen) return undefined;
  const host = listen.host === "0.0.0.0" ? "127.0.0.1" : listen.host === "::" ? "::1" : listen.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${listen.port}`;
}

export async function askServer<T>(registry: Registry, path: string, options: AskOptions): Promise<ServerAnswer<T>> {
  const url = serverUrl(registry, options.url);
  if (!url) return { ok: false, url, reason: `server.listen '${registry.settings.listen}' is not HOST:PORT` };
  const timeoutMs = options.timeoutMs ?? 1500;
  const headers: Record<string, string> = {};
  // The config's own key goes only to the config's own address; for another (--url) the user
  // names the key in BITROUTER_KEY, so a mistyped address never receives it.
  const key = options.url === undefined ? (registry.settings.apiKeys[0] ?? options.env?.BITROUTER_KEY) : options.env?.BITROUTER_KEY;
  if (key) headers.authorization = `Bearer ${key}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${url}${path}`, { headers, signal: controller.signal });
    text = await response.text();
  } catch {
    return { ok: false, url, reason: controller.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : "nothing answers there (not running?)" };
  } finally {
    clearTimeout(timer);
  }
  const notBitRouter = { ok: false as const, url, reason: `it answered ${response.status}, but not as BitRouter does (is --url the server's address, e.g. http://127.0.0.1:4356?)` };
  if (response.status === 401) return { ok: false, url, reason: `it answered 401: auth is on there; ${options.url === undefined ? "put its key in server.api_keys of this config or" : "put its key"} in BITROUTER_KEY` };
  if (!response.ok && !options.accept?.includes(response.status)) return { ok: false, url, reason: `it answered ${response.status}` };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return notBitRouter;
  }
  if (!options.looksRight(body)) return notBitRouter;
  return { ok: true, url, status: response.status, body: body as T };
}
