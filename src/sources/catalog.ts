// Built-in providers as data. A block such as `openrouter: {}` inherits everything here;
// with no config at all, each entry whose key variable is set is active.
import type { Protocol } from "../config/schema.ts";

/** Cascade rank by kind (SPEC §6): free local tokens first, flat-rate next, metered last. */
export type SourceKind = "self-hosted" | "subscription" | "api";

export interface CatalogEntry {
  id: string;
  label: string;
  kind: SourceKind;
  apiBase: string;
  /** Wire protocols the source speaks, preferred first. */
  protocols: Protocol[];
  /** Where a protocol the source also speaks lives when not at `apiBase` (chosen by a declared `api_protocol`). */
  protocolBases?: Partial<Record<Protocol, string>>;
  /** How the source authenticates: an API key from `keyEnv`, an OAuth login, or nothing. */
  credential: "api_key" | "oauth" | "none";
  /** Environment variable holding the key (optional for self-hosted servers). */
  keyEnv?: string;
  /** Model ids known without asking the source; discovery replaces them when it succeeds. */
  models: string[];
}

const api = (id: string, label: string, apiBase: string, keyEnv: string, models: string[] = [], protocols: Protocol[] = ["chat_completions"]): CatalogEntry => ({
  id,
  label,
  kind: "api",
  apiBase,
  protocols,
  credential: "api_key",
  keyEnv,
  models,
});

const selfHosted = (id: string, label: string, apiBase: string, keyEnv: string): CatalogEntry => ({
  id,
  label,
  kind: "self-hosted",
  apiBase,
  protocols: ["chat_completions"],
  credential: "none",
  keyEnv,
  models: [],
});

export const CATALOG: readonly CatalogEntry[] = [
  api("openai", "OpenAI", "https://api.openai.com/v1", "OPENAI_API_KEY", ["gpt-5", "gpt-5-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini"], ["chat_completions", "responses"]),
  api("anthropic", "Anthropic", "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY", ["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-sonnet-4-0"], ["messages"]),
  api("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
  // Gemini's native API (thought signatures, thinking budgets, its own usage buckets); its
  // OpenAI-compatible endpoint is used when `api_protocol: chat_completions` is declared.
  {
    ...api("google", "Google Gemini", "https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY", ["gemini-2.5-pro", "gemini-2.5-flash"], ["generate_content"]),
    protocolBases: { chat_completions: "https://generativelanguage.googleapis.com/v1beta/openai" },
  },
  api("groq", "Groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"]),
  api("deepseek", "DeepSeek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", ["deepseek-chat", "deepseek-reasoner"]),
  api("mistral", "Mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", ["mistral-large-latest", "codestral-latest"]),
  api("xai", "xAI", "https://api.x.ai/v1", "XAI_API_KEY", ["grok-4", "grok-3-mini"]),
  api("together", "Together AI", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
  api("fireworks", "Fireworks AI", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
  api("cerebras", "Cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
  selfHosted("ollama", "Ollama", "http://localhost:11434/v1", "OLLAMA_API_KEY"),
  selfHosted("vllm", "vLLM", "http://localhost:8000/v1", "VLLM_API_KEY"),
  selfHosted("llamacpp", "llama.cpp server", "http://localhost:8080/v1", "LLAMACPP_API_KEY"),
  selfHosted("lmstudio", "LM Studio", "http://localhost:1234/v1", "LMSTUDIO_API_KEY"),
  {
    id: "openai-codex",
    label: "ChatGPT plan (Codex)",
    kind: "subscription",
    apiBase: "https://chatgpt.com/backend-api/codex",
    protocols: ["responses"],
    credential: "oauth",
    models: ["gpt-5", "gpt-5-codex"],
  },
];

export const BUILTIN_IDS: readonly string[] = CATALOG.map((e) => e.id);

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}

/** `<PROVIDER_ID>_API_KEY`: upper case, `-` → `_` (SPEC §3). */
export function defaultKeyEnv(id: string): string {
  return `${id.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
}
