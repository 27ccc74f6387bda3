// Access tokens for requests: refreshed before they expire (within 60 s), one refresh at a time
// per plan however many requests ask (single-flight), written back to the store, and refreshed
// once more when a source rejects a token.
import { BitRouterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CredentialStore, OAuthCredential } from "./credentials.ts";
import { refreshCredential, type TokenRequestDeps } from "./oauth.ts";
import { type PlanId, planFor } from "./plans.ts";

export const REFRESH_WINDOW_SECS = 60;

export interface SubscriptionAuth {
  /** A token that is valid now (refreshed first when close to its expiry). */
  accessToken(plan: PlanId): Promise<{ token: string; credential: OAuthCredential }>;
  /** The source refused `staleToken`: get a fresh one (shared by every request that saw the refusal). */
  refreshAfterRejection(plan: PlanId, staleToken: string): Promise<{ token: string; credential: OAuthCredential }>;
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
  const inflight = new Map<PlanId, Promise<OAuthCredential>>();

  const stored = (plan: PlanId): OAuthCredential => {
    let credential: OAuthCredential | undefined;
    try {
      credential = deps.store.get(plan);
    } catch (err) {
      // A damaged or unreadable file: this source cannot be used now; others still can.
      throw loginRequired(plan, `the stored login cannot be read (${(err as Error).message})`);
    }
    if (!credential) throw loginRequired(plan, "not logged in");
    return credential;
  };
  const fresh = (credential: OAuthCredential) => credential.expires_at === 0 || credential.expires_at - REFRESH_WINDOW_SECS > now() / 1000;

  /** Refresh unless another process or request already did (the store is read again first). */
  const refresh = (plan: PlanId, stale: string): Promise<OAuthCredential> => {
    const running = inflight.get(plan);
    if (running) return running;
    const task = (async () => {
      const current = stored(plan);
      if (current.access_token !== stale && fresh(current)) return current;
      let next: OAuthCredential;
      try {
        next = await refreshCredential(planFor(plan, deps.env), current, { fetch: deps.fetch, now });
      } catch (err) {
        deps.log?.warn("token refresh failed", { provider: plan, error: (err as Error).message });
        throw loginRequired(plan, `the login could not be refreshed (${(err as Error).message})`);
      }
      try {
        deps.store.put(plan, next);
      } catch (err) {
        // The new token still works for this process; the next start refreshes again.
        deps.log?.warn("refreshed token could not be saved", { provider: plan, error: (err as Error).message });
      }
      deps.log?.info("token refreshed", { provider: plan, valid_until: new Date(next.expires_at * 1000).toISOString() });
      return next;
    })().finally(() => inflight.delete(plan));
    inflight.set(plan, task);
    return task;
  };

  return {
    async accessToken(plan) {
      let credential = stored(plan);
      if (!fresh(credential)) credential = await refresh(plan, credential.access_token);
      return { token: credential.access_token, credential };
    },
    async refreshAfterRejection(plan, staleToken) {
      const credential = await refresh(plan, staleToken);
      return { token: credential.access_token, credential };
    },
  };
}

function loginRequired(plan: PlanId, why: string): BitRouterError {
  return new BitRouterError(401, "authentication_error", `${plan}: ${why}; run \`bitrouter login ${plan}\``, { code: "login_required" });
}
