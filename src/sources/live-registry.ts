// The registry a running server answers from: the base (config, logins, discovery; rebuilt on
// reload) with the detected local servers laid over it (refreshed every detect interval). Each
// request takes one snapshot, so a change never reaches a request halfway.
import type { Logger } from "../log.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { applyDetection, type DetectedServer, type DetectSettings, detectionRound } from "./detect.ts";
import type { Registry } from "./registry.ts";

export interface LiveRegistry {
  current(): Registry;
  /** A new base (a reload), detected again at once. */
  replaceBase(base: Registry, settings: DetectSettings): Promise<void>;
  /** A new base with what was last detected (discovery finished). */
  setBase(base: Registry): void;
  /** One detection round now. */
  refresh(): Promise<void>;
  /** Detect every interval until `stop`. */
  start(): void;
  stop(): void;
}

export function createLiveRegistry(base: Registry, settings: DetectSettings, deps: { upstream: UpstreamClient; log?: Logger }): LiveRegistry {
  let detected: DetectedServer[] = [];
  let current = applyDetection(base, detected, settings);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  // Rounds and reloads run one at a time, in order.
  let queue = Promise.resolve();
  const serially = (task: () => Promise<void>) => {
    queue = queue.then(task, task);
    return queue;
  };
  const round = async () => {
    detected = await detectionRound(settings, detected, deps);
    current = applyDetection(base, detected, settings);
  };
  const schedule = () => {
    clearTimeout(timer);
    if (!running || !settings.enabled) return;
    timer = setTimeout(() => void serially(round).then(schedule), settings.intervalMs);
  };
  return {
    current: () => current,
    replaceBase(nextBase, nextSettings) {
      return serially(async () => {
        base = nextBase;
        settings = nextSettings;
        await round();
        schedule();
      });
    },
    setBase(nextBase) {
      base = nextBase;
      current = applyDetection(base, detected, settings);
    },
    refresh: () => serially(round),
    start() {
      running = true;
      schedule();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
  };
}
