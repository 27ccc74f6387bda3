// Pay-per-token prices as data (SPEC §17): USD per million tokens, from the providers' public
// price pages (checked 2025-11; prices change, so a model's `pricing:` in the config wins).
// They price API traffic, and say what a plan's or a local model's tokens would have cost: the
// money saved. A model found in neither place is "unpriced", never guessed.
import type { Usage } from "../protocols/ir.ts";

export interface Price {
  input: number;
  output: number;
  /** Defaults to `input` when the provider has no cache discount. */
  cacheRead?: number;
  /** Defaults to `input`. */
  cacheWrite?: number;
}

const claude = (input: number, output: number): Price => ({ input, output, cacheRead: input / 10, cacheWrite: input * 1.25 });

export const PRICES: Readonly<Record<string, Price>> = {
  "gpt-5": { input: 1.25, output: 10, cacheRead: 0.125 },
  "gpt-5-codex": { input: 1.25, output: 10, cacheRead: 0.125 },
  "gpt-5-mini": { input: 0.25, output: 2, cacheRead: 0.025 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cacheRead: 0.005 },
  "gpt-4-1": { input: 2, output: 8, cacheRead: 0.5 },
  "gpt-4-1-mini": { input: 0.4, output: 1.6, cacheRead: 0.1 },
  "gpt-4o": { input: 2.5, output: 10, cacheRead: 1.25 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cacheRead: 0.075 },
  o3: { input: 2, output: 8, cacheRead: 0.5 },
  "o4-mini": { input: 1.1, output: 4.4, cacheRead: 0.275 },
  "claude-opus-4-1": claude(15, 75),
  "claude-opus-4": claude(15, 75),
  "claude-opus-4-5": claude(5, 25),
  "claude-sonnet-4-5": claude(3, 15),
  "claude-sonnet-4": claude(3, 15),
  "claude-sonnet-4-0": claude(3, 15),
  "claude-3-7-sonnet": claude(3, 15),
  "claude-haiku-4-5": claude(1, 5),
  "claude-3-5-haiku": claude(0.8, 4),
  "gemini-2-5-pro": { input: 1.25, output: 10, cacheRead: 0.31 },
  "gemini-2-5-flash": { input: 0.3, output: 2.5, cacheRead: 0.075 },
  "llama-3-3-70b-versatile": { input: 0.59, output: 0.79 },
  "llama-3-1-8b-instant": { input: 0.05, output: 0.08 },
  "deepseek-chat": { input: 0.28, output: 0.42, cacheRead: 0.028 },
  "deepseek-reasoner": { input: 0.28, output: 0.42, cacheRead: 0.028 },
  "mistral-large-latest": { input: 2, output: 6 },
  "codestral-latest": { input: 0.3, output: 0.9 },
  "grok-4": { input: 3, output: 15, cacheRead: 0.75 },
  "grok-3-mini": { input: 0.3, output: 0.5, cacheRead: 0.075 },
};

/**
 * The price of a model: its own `pricing:` from the config, else the table, found by its id as
 * sent upstream with the vendor prefix, dots and date suffix taken away
 * (`anthropic/claude-sonnet-4.5` and `claude-sonnet-4-5-20250929` are `claude-sonnet-4-5`).
 */
export function priceFor(model: string, configured?: Price): Price | undefined {
  if (configured) return configured;
  return PRICES[model] ?? PRICES[normalise(model)];
}

function normalise(model: string): string {
  const bare = model.toLowerCase().slice(model.lastIndexOf("/") + 1).replace(/\./g, "-");
  // Anthropic's dated ids (-20250929) are the alias's price; OpenAI's dated snapshots
  // (-2024-05-13) may not be, so they stay unpriced unless the config prices them.
  return bare.replace(/-\d{8}$/, "");
}

/** The five buckets of SPEC §17. `output` includes `reasoning` (the sources bill it as output). */
export interface Buckets {
  /** Input that was neither read from nor written to the cache. */
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
}

/** The IR counts input as every input token (cache reads and writes included), as OpenAI does. */
export function bucketsOf(usage: Usage): Buckets {
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  return { input: Math.max(0, usage.inputTokens - cacheRead - cacheWrite), cacheRead, cacheWrite, output: usage.outputTokens, reasoning: usage.reasoningTokens ?? 0 };
}

/** USD for these tokens at this price. */
export function costOf(buckets: Buckets, price: Price): number {
  const perToken = (perMillion: number) => perMillion / 1_000_000;
  return (
    buckets.input * perToken(price.input) +
    buckets.cacheRead * perToken(price.cacheRead ?? price.input) +
    buckets.cacheWrite * perToken(price.cacheWrite ?? price.input) +
    buckets.output * perToken(price.output)
  );
}
