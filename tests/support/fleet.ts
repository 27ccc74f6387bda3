// The usual e2e setup: fake ollama and openrouter sources, BitRouter in front of them with
// fleetConfig, an openai client aimed at it. Registers its own hooks; reset before each test.
import { afterAll, beforeAll, beforeEach, expect } from "bun:test";
import OpenAI from "openai";
import { type RunningBitRouter, startBitRouter } from "./bitrouter.ts";
import { fleetConfig, OPENROUTER_KEY } from "./config.ts";
import { type FakeUpstream, startFakeUpstream } from "./fake-upstream.ts";

export interface Fleet {
  ollama: FakeUpstream;
  openrouter: FakeUpstream;
  bitrouter: RunningBitRouter;
  /** maxRetries 0, so attempts seen by the fakes are BitRouter's alone. */
  client: OpenAI;
}

export function useFleet(configure: (ollama: FakeUpstream, openrouter: FakeUpstream) => string = fleetConfig): Fleet {
  const fleet = {} as Fleet;
  beforeAll(async () => {
    fleet.ollama = await startFakeUpstream("ollama");
    fleet.openrouter = await startFakeUpstream("openrouter");
    fleet.bitrouter = await startBitRouter({ config: configure(fleet.ollama, fleet.openrouter), env: { OPENROUTER_API_KEY: OPENROUTER_KEY } });
    fleet.client = new OpenAI({ apiKey: "sk-client-secret-should-not-travel", baseURL: `${fleet.bitrouter.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    expect(await fleet.bitrouter.stop()).toBe(0);
    fleet.ollama.stop();
    fleet.openrouter.stop();
  });
  beforeEach(() => {
    fleet.ollama.reset();
    fleet.openrouter.reset();
  });
  return fleet;
}
