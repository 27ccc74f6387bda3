// Access tokens for requests: refreshed before they expire (within 60 s), one refresh at a time
// per login (plan and label) however many requests ask (single-flight), written back to the
// store, and refreshed once more when a source rejects a token.
import { BitRouterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CredentialStore, OAuthCredential } from "./credentials.ts";
import { refreshCredential, type TokenRequestDeps } from "./oauth.ts";
import { type PlanId, planFor } from "./plans.ts";
import type { SharedLogins } from "./shared-logins.ts";

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
  /** Several instances (SPEC §20): take a login another instance refreshed, and refresh one at a time fleet-wide. */
  shared?: SharedLogins;
  /** How long to wait for another instance's refresh, ms (default 15,000). */
  fleetWaitMs?: number;
}

/** How long one instance may hold the fleet's refresh lock (ms): longer than any token request takes. */
const FLEET_LOCK_MS = 30_000;

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
  const fleetWaitMs = deps.fleetWaitMs ?? 15_000;
  /** A usable login that is not the one a source refused. */
  const better = (credential: OAuthCredential | undefined, stale: string): boolean => credential !== undefined && credential.access_token !== stale && fresh(credential);

  /** Keep a login in this instance's store (a failure costs a warning: the token still works here). */
  const save = (plan: PlanId, label: string, credential: OAuthCredential) => {
    try {
      deps.store.put(plan, credential, label);
    } catch (err) {
      deps.log?.warn("refreshed token could not be saved", { provider: plan, account: label, error: (err as Error).message });
    }
  };

  /** One refresh at the authorisation server, from `base`'s refresh token. */
  const refreshFrom = async (plan: PlanId, label: string, base: OAuthCredential): Promise<OAuthCredential> => {
    let next: OAuthCredential;
    try {
      next = await refreshCredential(planFor(plan, deps.env), base, { fetch: deps.fetch, now });
    } catch (err) {
      deps.log?.warn("token refresh failed", { provider: plan, account: label, error: (err as Error).message });
      throw loginRequired(plan, label, `the login could not be refreshed (${(err as Error).message})`);
    }
    save(plan, label, next);
    deps.log?.info("token refreshed", { provider: plan, account: label, valid_until: new Date(next.expires_at * 1000).toISOString() });
    return next;
  };

  /**
   * The refresh through the fleet: take a login another instance already refreshed, else take
   * the lock and refresh (writing the result to Redis), else wait for the instance holding it.
   * Undefined when Redis cannot be asked: the caller refreshes on its own.
   */
  const refreshInFleet = async (shared: SharedLogins, plan: PlanId, label: string, stale: string, current: OAuthCredential): Promise<OAuthCredential | undefined> => {
    /** The fleet's login when it is usable and not the refused one (kept here too), else undefined. */
    const adopt = (known: OAuthCredential | undefined): OAuthCredential | undefined => {
      if (!known || !better(known, stale)) return undefined;
      save(plan, label, known);
      return known;
    };
    let release: (() => Promise<void>) | null;
    try {
      const known = adopt(await shared.get(plan, label));
      if (known) return known;
      release = await shared.lock(plan, label, FLEET_LOCK_MS);
    } catch (err) {
      deps.log?.warn("redis unreachable: refreshing this login without the fleet's lock", { provider: plan, account: label, error: (err as Error).message });
      return undefined;
    }
    if (release) {
      try {
        // Another instance may have finished just before the lock was free; its refresh token is the live one.
        const known = await shared.get(plan, label).catch(() => undefined);
        if (adopt(known)) return known;
        const base = known && known.expires_at >= current.expires_at ? known : current;
        const next = await refreshFrom(plan, label, base);
        await shared.put(plan, label, next).catch((err: Error) => deps.log?.warn("refreshed token could not be shared through redis", { provider: plan, account: label, error: err.message }));
        return next;
      } finally {
        await release().catch(() => {});
      }
    }
    // Another instance is refreshing: its result appears in Redis.
    const deadline = now() + fleetWaitMs;
    while (now() < deadline) {
      await Bun.sleep(100);
      const known = adopt(await shared.get(plan, label).catch(() => undefined));
      if (known) return known;
    }
    throw loginRequired(plan, label, `another BitRouter instance is refreshing this login and did not finish within ${fleetWaitMs / 1000} s`);
  };

  /** Refresh unless another process or request already did (the store is read again first). */
  const refresh = (plan: PlanId, label: string, stale: string): Promise<OAuthCredential> => {
    const key = `${plan}\u0000${label}`;
    const running = inflight.get(key);
    if (running) return running;
    const task = (async () => {
      const current = stored(plan, label);
      if (better(current, stale)) return current;
      if (deps.shared) {
        const viaFleet = await refreshInFleet(deps.shared, plan, label, stale, current);
        if (viaFleet) return viaFleet;
      }
      return refreshFrom(plan, label, current);
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
