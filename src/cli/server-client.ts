// Asking the running server (the one on the configured listen address, or --url) for what only
// it knows: health, plan windows, affinity. Bounded, so a command never hangs on a dead port.
import type { Registry } from "../sources/registry.ts";
import { parseListen } from "../config/listen.ts";

export type ServerAnswer<T> = { ok: true; url: string; body: T } | { ok: false; url: string | undefined; reason: string };

/** The base URL of the server the config describes (a wildcard listen is asked on loopback). */
export function serverUrl(registry: Registry, override?: string): string | undefined {
  if (override) return override.replace(/\/+$/, "");
  const listen = parseListen(registry.settings.listen);
  if (!listen) return undefined;
  const host = listen.host === "0.0.0.0" ? "127.0.0.1" : listen.host === "::" ? "::1" : listen.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${listen.port}`;
}

export async function askServer<T>(registry: Registry, path: string, override?: string, timeoutMs = 1500): Promise<ServerAnswer<T>> {
  const url = serverUrl(registry, override);
  if (!url) return { ok: false, url, reason: `server.listen '${registry.settings.listen}' is not HOST:PORT` };
  const headers: Record<string, string> = {};
  // The CLI reads the same config as the server, so it can present the server's own key.
  if (!registry.settings.skipAuth && registry.settings.apiKeys[0]) headers.authorization = `Bearer ${registry.settings.apiKeys[0]}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(`${url}${path}`, { headers, signal: controller.signal });
    const text = await response.text();
    if (!response.ok) return { ok: false, url, reason: `it answered ${response.status}${response.status === 401 ? " (its api_keys differ from this config's)" : response.status === 404 ? " (an older version, or not BitRouter)" : ""}` };
    return { ok: true, url, body: JSON.parse(text) as T };
  } catch (err) {
    return { ok: false, url, reason: controller.signal.aborted ? "no answer within 1.5 s" : "nothing answers there (not running?)" };
  } finally {
    clearTimeout(timer);
  }
}
