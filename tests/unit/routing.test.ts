import { describe, expect, test } from "bun:test";
import { parseConfigText } from "../../src/config/load.ts";
import { BitRouterError } from "../../src/errors.ts";
import { resolveModel, resolveRequest } from "../../src/routing/resolve.ts";
import { buildRegistry, chooseProtocol, type Registry } from "../../src/sources/registry.ts";

function registry(yaml: string, env: Record<string, string> = {}): Registry {
  return buildRegistry({ ...parseConfigText(yaml, "bitrouter.yaml", env), path: "bitrouter.yaml" }, env);
}

const FLEET = `
providers:
  ollama:
    api_base: http://localhost:11434/v1
    models: [{ id: llama3.1 }, { id: qwen3 }]
  vllm:
    models: [{ id: qwen3 }]
  openrouter:
    api_key: \${OPENROUTER_API_KEY}
    models:
      - { id: openai/gpt-4o }
      - { id: llama3.1, provider_model_id: meta-llama/llama-3.1-8b-instruct }
  groq:
    models: [{ id: llama3.1 }]
models:
  smart:
    endpoints:
      - { provider: ollama, service_id: llama3.1 }
      - { provider: groq, service_id: llama3.1 }
      - { provider: openrouter, service_id: openai/gpt-4o }
`;

function errorOf(fn: () => unknown): BitRouterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BitRouterError) return err;
    throw err;
  }
  throw new Error("expected a BitRouterError");
}

describe("registry", () => {
  test("a built-in block inherits its base URL and key variable; an unset key makes it inactive, named", () => {
    const withKey = registry("providers:\n  openrouter: {}\n", { OPENROUTER_API_KEY: "sk-or" });
    const openrouter = withKey.sources.get("openrouter")!;
    expect(openrouter).toMatchObject({ active: true, apiBase: "https://openrouter.ai/api/v1", apiKey: "sk-or", reason: "key from OPENROUTER_API_KEY" });

    const without = registry("providers:\n  openrouter:\n    api_key: ${OPENROUTER_API_KEY}\n");
    expect(without.sources.get("openrouter")).toMatchObject({ active: false, reason: "OPENROUTER_API_KEY is not set" });
  });

  test("with no config file every built-in whose key variable is set is active", () => {
    const zero = buildRegistry({ path: null, config: {}, warnings: [], unset: [], substituted: [] }, { GROQ_API_KEY: "g", OPENAI_API_KEY: "o" });
    const active = [...zero.sources.values()].filter((s) => s.active).map((s) => s.id);
    expect(active.sort()).toEqual(["groq", "openai"]);
    expect(zero.sources.get("anthropic")?.reason).toBe("ANTHROPIC_API_KEY is not set");
    expect(zero.settings).toMatchObject({ listen: "127.0.0.1:4356", skipAuth: true });
  });

  test("`<ID>_API_KEY` serves any configured provider", () => {
    const r = registry("providers:\n  my-gpu:\n    api_base: https://gpu.example.com/v1\n", { MY_GPU_API_KEY: "k" });
    expect(r.sources.get("my-gpu")).toMatchObject({ active: true, apiKey: "k", kind: "api" });
  });

  test("a hand-written provider on a LAN address is self-hosted; `active: false` disables", () => {
    const r = registry("providers:\n  closet:\n    api_base: http://192.168.1.20:8000/v1\n  ollama:\n    active: false\n");
    expect(r.sources.get("closet")).toMatchObject({ kind: "self-hosted", active: true });
    expect(r.sources.get("ollama")).toMatchObject({ active: false, reason: "disabled in config (active: false)" });
  });

  test("protocol: per-model list, else the most specific pattern, else the host; the client's protocol wins when spoken", () => {
    const r = registry(`
providers:
  mixed:
    api_base: https://mixed.example.com/v1
    api_protocol:
      - "*": chat_completions
      - "claude-*": messages
      - "gpt-5-codex": [responses, chat_completions]
    models:
      - { id: special, api_protocol: responses }
  anthropic-proxy:
    api_base: https://proxy.anthropic.com/v1
`);
    const mixed = r.sources.get("mixed")!;
    expect(chooseProtocol(mixed, undefined, "llama", "chat_completions")).toBe("chat_completions");
    expect(chooseProtocol(mixed, undefined, "claude-sonnet", "chat_completions")).toBe("messages");
    expect(chooseProtocol(mixed, undefined, "gpt-5-codex", "chat_completions")).toBe("chat_completions");
    expect(chooseProtocol(mixed, undefined, "gpt-5-codex", "messages")).toBe("responses");
    expect(chooseProtocol(mixed, mixed.models[0], "special", "chat_completions")).toBe("responses");
    expect(chooseProtocol(r.sources.get("anthropic-proxy")!, undefined, "x", "chat_completions")).toBe("messages");
  });
});

describe("resolution", () => {
  const r = registry(FLEET, { OPENROUTER_API_KEY: "sk-or" });

  test("provider:model pins the source and passes an undeclared model through", () => {
    const pinned = resolveModel(r, "openrouter:openai/gpt-4o", "chat_completions");
    expect(pinned.candidates.map((c) => [c.source.id, c.upstreamModel])).toEqual([["openrouter", "openai/gpt-4o"]]);
    const passthrough = resolveModel(r, "openrouter:mistralai/new-model", "chat_completions");
    expect(passthrough.candidates[0]?.upstreamModel).toBe("mistralai/new-model");
    // A declared id maps to its provider_model_id.
    expect(resolveModel(r, "openrouter:llama3.1", "chat_completions").candidates[0]?.upstreamModel).toBe("meta-llama/llama-3.1-8b-instruct");
  });

  test("a colon that does not follow a source keeps the whole string as a bare name", () => {
    const e = errorOf(() => resolveModel(r, "llama3.1:70b", "chat_completions"));
    expect(e.status).toBe(404);
    expect(e.message).toContain("'llama3.1:70b'");
  });

  test("a pinned inactive provider names the missing credential", () => {
    const e = errorOf(() => resolveModel(r, "groq:llama3.1", "chat_completions"));
    expect(e.status).toBe(503);
    expect(e.code).toBe("provider_inactive");
    expect(e.message).toBe("provider 'groq' is inactive: GROQ_API_KEY is not set");
  });

  test("a virtual model keeps its declared order and reports inactive endpoints", () => {
    const smart = resolveModel(r, "smart", "chat_completions");
    expect(smart.via).toBe("virtual");
    expect(smart.candidates.map((c) => `${c.source.id}/${c.upstreamModel}`)).toEqual(["ollama/llama3.1", "openrouter/openai/gpt-4o"]);
    expect(smart.skipped).toEqual([{ provider: "groq", model: "llama3.1", reason: "inactive: GROQ_API_KEY is not set" }]);
  });

  test("a bare name cascades self-hosted first, then pay-per-token, each group by id", () => {
    const llama = resolveModel(r, "llama3.1", "chat_completions");
    expect(llama.candidates.map((c) => c.source.id)).toEqual(["ollama", "openrouter"]);
    expect(llama.candidates[1]?.upstreamModel).toBe("meta-llama/llama-3.1-8b-instruct");
    expect(resolveModel(r, "qwen3", "chat_completions").candidates.map((c) => c.source.id)).toEqual(["ollama", "vllm"]);
  });

  test("explicit priority overrides the kind order", () => {
    const prioritised = registry(`${FLEET.replace("  openrouter:\n", "  openrouter:\n    priority: 1\n")}`, { OPENROUTER_API_KEY: "sk-or" });
    expect(resolveModel(prioritised, "llama3.1", "chat_completions").candidates.map((c) => c.source.id)).toEqual(["openrouter", "ollama"]);
  });

  test("an unknown model is a 404 that says what was searched and suggests close ids", () => {
    const e = errorOf(() => resolveModel(r, "gpt-4o", "chat_completions"));
    expect(e.status).toBe(404);
    expect(e.code).toBe("model_not_found");
    expect(e.message).toContain("searched virtual models, ollama, vllm, openrouter");
    expect(e.message).toContain("Did you mean 'openai/gpt-4o'");
  });

  test("the body's models list extends the chain without repeating a candidate", () => {
    const chain = resolveRequest(r, "llama3.1", ["smart", "openrouter:openai/gpt-4o"], "chat_completions");
    expect(chain.candidates.map((c) => `${c.source.id}/${c.upstreamModel}`)).toEqual([
      "ollama/llama3.1",
      "openrouter/meta-llama/llama-3.1-8b-instruct",
      "openrouter/openai/gpt-4o",
    ]);
    expect(errorOf(() => resolveRequest(r, "llama3.1", ["nope"], "chat_completions")).status).toBe(400);
    expect(errorOf(() => resolveRequest(r, "llama3.1", Array(9).fill("qwen3"), "chat_completions")).code).toBe("invalid_models");
    // Without `model`, the list's first entry is the primary.
    expect(resolveRequest(r, undefined, ["qwen3"], "chat_completions").requested).toBe("qwen3");
  });
});
