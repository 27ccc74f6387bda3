// Plan logins and plan answers for tests: a BITROUTER_HOME holding stored logins, and the
// `anthropic-ratelimit-unified-*` headers a Claude plan answers with (reference: the golden
// header sets in tests/unit/health.test.ts).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const nowSecs = () => Math.floor(Date.now() / 1000);

/** A BITROUTER_HOME with these plan logins (label → access token), valid for an hour. */
export function withLogins(logins: { anthropic?: Record<string, string>; "openai-codex"?: Record<string, string> }): string {
  const dir = mkdtempSync(join(tmpdir(), "bitrouter-plans-"));
  mkdirSync(join(dir, ".bitrouter"), { recursive: true });
  const file: Record<string, Record<string, object>> = {};
  for (const [plan, labels] of Object.entries(logins)) {
    file[plan] = Object.fromEntries(
      Object.entries(labels).map(([label, token]) => [label, { type: "oauth", access_token: token, refresh_token: `rt-${token}`, expires_at: nowSecs() + 3600, account: { email: `${label}@example.com`, plan: "max" } }]),
    );
  }
  writeFileSync(join(dir, ".bitrouter", "credentials.json"), JSON.stringify(file), { mode: 0o600 });
  return dir;
}

/** A Claude plan's window headers: the 5-hour window at `utilization`, resetting at `resetSecs`. */
export function claudeHeaders(utilization: number, resetSecs: number, verdict = "allowed"): Record<string, string> {
  return {
    "anthropic-ratelimit-unified-status": verdict,
    "anthropic-ratelimit-unified-reset": String(resetSecs),
    "anthropic-ratelimit-unified-representative-claim": "five_hour",
    "anthropic-ratelimit-unified-5h-utilization": String(utilization),
    "anthropic-ratelimit-unified-5h-reset": String(resetSecs),
    "anthropic-ratelimit-unified-5h-status": verdict,
    "anthropic-ratelimit-unified-7d-utilization": "0.31",
    "anthropic-ratelimit-unified-7d-reset": String(nowSecs() + 5 * 86400),
    "anthropic-ratelimit-unified-7d-status": "allowed",
  };
}
