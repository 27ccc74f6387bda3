// One link to Redis for the shared state (SPEC §20), on Bun's built-in client. Redis is an
// accelerator, never a dependency of a request: every command is bounded in time and fails at
// once while the link is down (no offline queue builds up), the link reconnects by itself with
// a backoff, and the owner hears each transition once (a warning when it goes, a note and a
// resync when it comes back). A second connection carries the pub/sub channel, since a
// subscribed connection cannot send other commands.
import { RedisClient } from "bun";
import type { Logger } from "../log.ts";

export interface RedisLinkOptions {
  url: string;
  log: Logger;
  /** Longest wait for one command, ms (default 500). */
  commandTimeoutMs?: number;
  /** Longest wait for a connection, ms (default 2,000). */
  connectTimeoutMs?: number;
}

export interface RedisLink {
  /** Connected now (commands are sent); false while down (commands fail at once). */
  readonly up: boolean;
  /**
   * One command. Resolves with Redis's reply; rejects with RedisDown at once while the link is
   * down, or after `commandTimeoutMs` without a reply (the link is then reset).
   */
  send(command: string, args: string[]): Promise<unknown>;
  /** Receive every message on `channel`, across reconnects. */
  subscribe(channel: string, listener: (message: string) => void): void;
  /** Called after each (re)connection, the first one included: the place to resync. */
  onUp(listener: () => void): void;
  /** Resolves once the first connection attempt has succeeded or failed (never rejects). */
  ready(): Promise<void>;
  close(): void;
}

export class RedisDown extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisDown";
  }
}

/** Reconnection waits: from 250 ms, doubling, at most 5 s. */
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** Timeouts in a row that mark a connection as dead (a black-holed server never closes it). */
const TIMEOUTS_TO_RESET = 3;

/** The URL with any password replaced, for messages (a Redis URL may carry one). */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

export function createRedisLink(options: RedisLinkOptions): RedisLink {
  const { url, log } = options;
  const commandTimeoutMs = options.commandTimeoutMs ?? 500;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  const where = redactRedisUrl(url);
  const clientOptions = { connectionTimeout: connectTimeoutMs, autoReconnect: false, enableOfflineQueue: false, enableAutoPipelining: true };
  const channels = new Map<string, (message: string) => void>();
  const upListeners: (() => void)[] = [];
  let commands: RedisClient | undefined;
  let subscriber: RedisClient | undefined;
  let up = false;
  let closed = false;
  /** Whether an outage was announced (so a flapping link warns once per outage). */
  let announcedDown = false;
  let everUp = false;
  let backoff = BACKOFF_MIN_MS;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let timeoutsInARow = 0;
  let connecting: Promise<void> | undefined;
  let firstAttempt: Promise<void> | undefined;

  const dropClients = () => {
    up = false;
    for (const client of [commands, subscriber]) {
      if (!client) continue;
      client.onclose = null;
      try {
        client.close();
      } catch {
        // already closed
      }
    }
    commands = subscriber = undefined;
  };

  const goneDown = (why: string) => {
    const wasUp = up;
    dropClients();
    if (!announcedDown && (wasUp || !everUp)) {
      announcedDown = true;
      log.warn("redis unreachable: sharing state stops, this instance goes on with its own", { redis: where, error: why, check: "the host, port and password (or TLS) in state.redis" });
    }
    scheduleRetry();
  };

  const scheduleRetry = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, backoff);
    // The retry must not keep a stopping process alive.
    retry.unref?.();
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  };

  const connect = (): Promise<void> => {
    if (closed) return Promise.resolve();
    connecting ??= (async () => {
      let nextCommands: RedisClient;
      let nextSubscriber: RedisClient;
      try {
        nextCommands = new RedisClient(url, clientOptions);
        nextSubscriber = new RedisClient(url, clientOptions);
      } catch (err) {
        // A URL the client refuses: no retry will fix it. Said once; this instance stays alone.
        closed = true;
        log.warn("redis URL refused: this instance does not share state", { redis: where, error: (err as Error).message });
        return;
      }
      try {
        await Promise.all([nextCommands.connect(), nextSubscriber.connect()]);
        for (const [channel, listener] of channels) await nextSubscriber.subscribe(channel, listener);
      } catch (err) {
        for (const client of [nextCommands, nextSubscriber]) {
          try {
            client.close();
          } catch {
            // never opened
          }
        }
        goneDown((err as Error).message);
        return;
      }
      if (closed) {
        nextCommands.close();
        nextSubscriber.close();
        return;
      }
      commands = nextCommands;
      subscriber = nextSubscriber;
      const onClose = (error: Error) => {
        if (commands === nextCommands) goneDown(error?.message || "connection closed");
      };
      nextCommands.onclose = onClose;
      nextSubscriber.onclose = onClose;
      up = true;
      everUp = true;
      backoff = BACKOFF_MIN_MS;
      timeoutsInARow = 0;
      if (announcedDown) log.info("redis reachable again: sharing state", { redis: where });
      else log.info("sharing state through redis", { redis: where });
      announcedDown = false;
      for (const listener of upListeners) {
        try {
          listener();
        } catch (err) {
          log.warn("redis resync failed", { error: (err as Error).message });
        }
      }
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  return {
    get up() {
      return up;
    },
    send(command, args) {
      const client = commands;
      if (!up || !client) return Promise.reject(new RedisDown(`redis is unreachable (${where})`));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // A server that stopped answering keeps its connection open: after a few timeouts
          // in a row the link is reset, so commands fail at once instead of each waiting.
          if (++timeoutsInARow >= TIMEOUTS_TO_RESET && commands === client) goneDown(`no reply within ${commandTimeoutMs} ms`);
          reject(new RedisDown(`redis did not answer ${command} within ${commandTimeoutMs} ms`));
        }, commandTimeoutMs);
      });
      const reply = client.send(command, args).then(
        (value) => {
          timeoutsInARow = 0;
          return value;
        },
        (err: Error) => {
          throw err instanceof RedisDown ? err : new RedisDown(`redis ${command} failed: ${err.message}`);
        },
      );
      reply.catch(() => {});
      return Promise.race([reply, late]).finally(() => clearTimeout(timer));
    },
    subscribe(channel, listener) {
      channels.set(channel, listener);
      if (up && subscriber) subscriber.subscribe(channel, listener).catch((err: Error) => goneDown(err.message));
    },
    onUp(listener) {
      upListeners.push(listener);
    },
    ready() {
      firstAttempt ??= connect();
      return firstAttempt;
    },
    close() {
      closed = true;
      clearTimeout(retry);
      dropClients();
    },
  };
}
