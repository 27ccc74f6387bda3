// Access tokens for requests: refreshed before they expire (within 60 s), one refresh at a time
// per login (plan and label) however many requests ask (single-flight), written back to the
// store, and refreshed once more when a source rejects a token.
import { BitRouterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CredentialStore, OAuthCredential } from "./credentials.ts";
import { refreshCredential, type TokenRequestDeps } from "./oauth.ts";
import { type PlanId, planFor } from "./plans.ts";

export const REFRESH_WINDOW_SECS = 60;

export interface SubscriptionAuth {
  /** A token that is valid now (refreshed first when close to its expiry). */
  accessToken(plan: PlanId, label?: string): Promise<{ token: string; credential: OAuthCredential }>;
  /** The source refused `staleToken`: get a fresh one (shared by every request that saw the refusal). */
  refreshAfterRejection(plan: PlanId, staleToken: string, label?: string): Promise<{ token: string; credential: OAuthCredential }>;
}

export interface SubscriptionAuthDeps {
  store: CredentialStore;
  env: Record<string, string | undefined>;
  fetch: TokenRequestDeps["fetch"];
  log?: Logger;
  now?: () => number;
}

export function createSubscriptionAuth(deps: SubscriptionAuthDeps): SubscriptionAuth {
  const now = deps.now ?? Date.now;
  const inflight = new Map<string, Promise<OAuthCredential>>();

  const stored = (plan: PlanId, label: string): OAuthCredential => {
    let credential: OAuthCredential | undefined;
    try {
      credential = deps.store.get(plan, label);
    } catch (err) {
      // A damaged or unreadable file: this source cannot be used now; others still can.
      throw loginRequired(plan, label, `the stored login cannot be read (${(err as Error).message})`);
    }
    if (!credential) throw loginRequired(plan, label, "not logged in");
    return credential;
  };
  const fresh = (credential: OAuthCredential) => credential.expires_at === 0 || credential.expires_at - REFRESH_WINDOW_SECS > now() / 1000;

  /** Refresh unless another process or request already did (the store is read again first). */
  const refresh = (plan: PlanId, label: string, stale: string): Promise<OAuthCredential> => {
    const key = `${plan}\u0000${label}`;
    const running = inflight.get(key);
    if (running) return running;
    const task = (async () => {
      const current = stored(plan, label);
      if (current.access_token !== stale && fresh(current)) return current;
      let next: OAuthCredential;
      try {
        next = await refreshCredential(planFor(plan, deps.env), current, { fetch: deps.fetch, now });
      } catch (err) {
        deps.log?.warn("token refresh failed", { provider: plan, account: label, error: (err as Error).message });
        throw loginRequired(plan, label, `the login could not be refreshed (${(err as Error).message})`);
      }
      try {
        deps.store.put(plan, next, label);
      } catch (err) {
        // The new token still works for this process; the next start refreshes again.
        deps.log?.warn("refreshed token could not be saved", { provider: plan, account: label, error: (err as Error).message });
      }
      deps.log?.info("token refreshed", { provider: plan, account: label, valid_until: new Date(next.expires_at * 1000).toISOString() });
      return next;
    })().finally(() => inflight.delete(key));
    inflight.set(key, task);
    return task;
  };

  return {
    async accessToken(plan, label = "default") {
      let credential = stored(plan, label);
      if (!fresh(credential)) credential = await refresh(plan, label, credential.access_token);
      return { token: credential.access_token, credential };
    },
    async refreshAfterRejection(plan, staleToken, label = "default") {
      const credential = await refresh(plan, label, staleToken);
      return { token: credential.access_token, credential };
    },
  };
}

function loginRequired(plan: PlanId, label: string, why: string): BitRouterError {
  const login = label === "default" ? `bitrouter login ${plan}` : `bitrouter login ${plan} --label ${label}`;
  return new BitRouterError(401, "authentication_error", `${plan}${label === "default" ? "" : ` (account ${label})`}: ${why}; run \`${login}\``, { code: "login_required" });
}
