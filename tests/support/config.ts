// The config most e2e tests use: a local source (ollama) and a hosted one (openrouter), both
// fake, and a virtual model that tries the local one first.
import type { FakeUpstream } from "./fake-upstream.ts";

/**
 * For suites that script a fault per test against one long-lived server and check failover
 * within a request: health across requests (a source a previous test broke would stay demoted)
 * has its own suite, tests/e2e/health.test.ts.
 */
export const PER_REQUEST_FAILOVER = "health: false\n";

export function fleetConfig(ollama: FakeUpstream, openrouter: FakeUpstream, extra = ""): string {
  return `
${PER_REQUEST_FAILOVER}server:
  keepalive_secs: 1
upstream:
  timeouts:
    read_secs: 2
  max_retry_wait_secs: 2
providers:
  ollama:
    api_base: ${ollama.baseUrl}
    models:
      - id: llama3.1
  openrouter:
    api_base: ${openrouter.baseUrl}
    api_key: \${OPENROUTER_API_KEY}
    models:
      - id: openai/gpt-4o
models:
  smart:
    strategy: priority
    endpoints:
      - { provider: ollama, service_id: llama3.1 }
      - { provider: openrouter, service_id: openai/gpt-4o }
${extra}`;
}

export const OPENROUTER_KEY = "sk-or-v1-test-key-0123456789";

/** Read a whole SSE response as text. */
export async function sseText(response: Response): Promise<string> {
  return response.text();
}

export function chatBody(model: string, extra: Record<string, unknown> = {}, content = "hi"): string {
  return JSON.stringify({ model, messages: [{ role: "user", content }], ...extra });
}
