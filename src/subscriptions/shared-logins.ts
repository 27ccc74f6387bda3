// Plan logins shared by several instances (SPEC §20): a refreshed login is written to Redis so
// the other instances take it instead of refreshing again, and a fleet-wide lock lets one
// instance refresh at a time (a refresh token used twice logs the plan out when the provider
// rotates refresh tokens). Redis holds the tokens under `{prefix}:login:{plan}:{label}`.
import type { RedisLink } from "../state/redis.ts";
import type { OAuthCredential } from "./credentials.ts";

export interface SharedLogins {
  /** The login the fleet last stored; undefined when there is none. Rejects (RedisDown) when Redis cannot say. */
  get(plan: string, label: string): Promise<OAuthCredential | undefined>;
  put(plan: string, label: string, credential: OAuthCredential): Promise<void>;
  /**
   * Take the fleet's refresh lock for a login for `ttlMs`: resolves with its release, or null
   * when another instance holds it. Rejects (RedisDown) when Redis cannot say.
   */
  lock(plan: string, label: string, ttlMs: number): Promise<(() => Promise<void>) | null>;
}

/** Deletes the lock only if it is still ours (it may have expired and been taken by another). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export function createSharedLogins(link: RedisLink, prefix: string): SharedLogins {
  const key = (plan: string, label: string) => `${prefix}:login:${plan}:${label}`;
  return {
    async get(plan, label) {
      const text = (await link.send("GET", [key(plan, label)])) as string | null;
      if (typeof text !== "string") return undefined;
      try {
        const credential = JSON.parse(text) as OAuthCredential;
        return typeof credential?.access_token === "string" && typeof credential.refresh_token === "string" ? credential : undefined;
      } catch {
        return undefined;
      }
    },
    async put(plan, label, credential) {
      await link.send("SET", [key(plan, label), JSON.stringify(credential)]);
    },
    async lock(plan, label, ttlMs) {
      const lockKey = `${key(plan, label)}:lock`;
      const token = crypto.randomUUID();
      const taken = await link.send("SET", [lockKey, token, "NX", "PX", String(ttlMs)]);
      if (taken !== "OK") return null;
      return async () => {
        await link.send("EVAL", [RELEASE, "1", lockKey, token]);
      };
    },
  };
}
