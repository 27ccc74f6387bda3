// Every top-level request field of every client protocol, and what becomes of it when the
// request crosses to a source of another protocol: mapped to the target's own field, dropped
// (the README's loss table lists it; the proxy logs it at debug level), or refused with a 400
// when losing it would change the *shape* of the answer (n > 1, logprobs, audio, a
// response_format the target cannot express). Same-protocol requests pass through untouched
// and are not audited. The table is data so that the README's loss table, the audit and the
// table test (tests/unit/fields.test.ts) read one source of truth.
import type { Protocol } from "../config/schema.ts";
import { badRequest, type BitRouterError } from "../errors.ts";
import { asArray, asObject, type Json } from "./json.ts";

export type Fate = "mapped" | "dropped";

export interface FieldRule {
  /** What happens to the field for each target protocol (the client's own is never consulted). */
  to: Partial<Record<Protocol, Fate>>;
  /** When the value cannot be carried without changing the answer's shape: why, else false. */
  refuse?: (value: unknown, target: Protocol) => string | false;
  /** One line for the loss table: how it is mapped or why it is lost. */
  note: string;
}

const ALL: Record<Protocol, Fate> = { chat_completions: "mapped", messages: "mapped", responses: "mapped", generate_content: "mapped" };
const mapped = (): Partial<Record<Protocol, Fate>> => ({ ...ALL });
const dropped = (): Partial<Record<Protocol, Fate>> => ({ chat_completions: "dropped", messages: "dropped", responses: "dropped", generate_content: "dropped" });
/** Mapped for the targets named, dropped for the others. */
const only = (...targets: Protocol[]): Partial<Record<Protocol, Fate>> => Object.fromEntries(PROTOCOL_LIST.map((p) => [p, targets.includes(p) ? "mapped" : "dropped"]));
const PROTOCOL_LIST = Object.keys(ALL) as Protocol[];

const truthy = (value: unknown) => value !== undefined && value !== null && value !== false && value !== 0;

export const REQUEST_FIELDS: Record<Protocol, Record<string, FieldRule>> = {
  chat_completions: {
    model: { to: mapped(), note: "the source's model id" },
    messages: { to: mapped(), note: "system/developer → system prompt; user, assistant, tool turns; text, images, files (file_data)" },
    stream: { to: mapped(), note: "" },
    stream_options: { to: mapped(), note: "include_usage is honoured by BitRouter itself (usage is always asked of the source)" },
    max_tokens: { to: mapped(), note: "→ max_tokens / max_output_tokens / maxOutputTokens" },
    max_completion_tokens: { to: mapped(), note: "→ max_tokens / max_output_tokens / maxOutputTokens" },
    temperature: { to: mapped(), note: "clamped to 0–1 for Messages" },
    top_p: { to: mapped(), note: "" },
    stop: { to: only("messages", "generate_content"), note: "→ stop_sequences / stopSequences; Responses has no stop sequences" },
    seed: { to: only("generate_content"), note: "→ generationConfig.seed; neither Messages nor Responses has a seed" },
    presence_penalty: { to: only("generate_content"), note: "→ generationConfig.presencePenalty; no equivalent elsewhere" },
    frequency_penalty: { to: only("generate_content"), note: "→ generationConfig.frequencyPenalty; no equivalent elsewhere" },
    logit_bias: { to: dropped(), note: "no equivalent" },
    n: { to: dropped(), refuse: (v) => (Number(v) > 1 ? "asks for several choices" : false), note: "n > 1 is refused (one answer only); n = 1 is the default" },
    logprobs: { to: dropped(), refuse: (v) => (v === true ? "asks for log probabilities" : false), note: "refused when true: the answer would lack them" },
    top_logprobs: { to: dropped(), refuse: (v) => (truthy(v) ? "asks for log probabilities" : false), note: "refused when > 0" },
    modalities: { to: dropped(), refuse: (v) => (asArray(v).includes("audio") ? "asks for an audio answer" : false), note: "refused when it asks for audio; text is the default" },
    audio: { to: dropped(), refuse: (v) => (truthy(v) ? "asks for an audio answer" : false), note: "refused: an audio answer" },
    tools: { to: mapped(), note: "function tools (and legacy `functions`); custom tools are dropped" },
    functions: { to: mapped(), note: "legacy: read as function tools" },
    function_call: { to: mapped(), note: "legacy: read as tool_choice" },
    tool_choice: { to: mapped(), note: "auto / none / required (any) / a named function" },
    parallel_tool_calls: { to: only("chat_completions", "messages", "responses"), note: "→ disable_parallel_tool_use for Messages; Gemini has no switch for it" },
    response_format: {
      to: mapped(),
      refuse: (v, target) => (target === "messages" && (asObject(v).type === "json_object" || v === "json_object") ? "asks for json_object (send a json_schema instead)" : false),
      note: "json_schema → output_config.format / text.format / responseJsonSchema; json_object → text.format / responseMimeType, refused for Messages",
    },
    reasoning_effort: { to: mapped(), note: "→ thinking / output_config.effort / reasoning.effort / thinkingConfig, for models declared with capabilities: [reasoning]" },
    verbosity: { to: only("responses"), note: "→ text.verbosity" },
    user: { to: only("messages", "responses"), note: "→ metadata.user_id / user (hashed when longer than the target allows); Gemini has no end-user field" },
    safety_identifier: { to: only("responses"), note: "" },
    prompt_cache_key: { to: only("responses"), note: "Messages caches by cache_control instead, Gemini by itself" },
    service_tier: { to: only("responses"), note: "the other protocols' tiers have other values" },
    metadata: { to: dropped(), note: "stored-completion tags; never sent across" },
    store: { to: dropped(), note: "stored completions are not carried across" },
    prediction: { to: dropped(), note: "predicted outputs: a latency hint only" },
    web_search_options: { to: dropped(), note: "built-in web search of OpenAI's search models" },
    models: { to: mapped(), note: "BitRouter's own fallback list; removed before any source" },
  },
  messages: {
    model: { to: mapped(), note: "" },
    messages: { to: mapped(), note: "text, images, documents, tool_use / tool_result (images in results follow as a user turn for Chat), thinking (Anthropic's signatures back to Anthropic only, Gemini's back to Gemini only)" },
    system: { to: mapped(), note: "string or text blocks → one system prompt; the Claude Code billing line is dropped" },
    max_tokens: { to: mapped(), note: "→ max_tokens / max_output_tokens / maxOutputTokens" },
    stream: { to: mapped(), note: "" },
    temperature: { to: mapped(), note: "" },
    top_p: { to: mapped(), note: "" },
    top_k: { to: only("generate_content"), note: "→ generationConfig.topK; OpenAI's APIs have no top_k" },
    stop_sequences: { to: only("chat_completions", "generate_content"), note: "→ stop / stopSequences; Responses has no stop sequences" },
    tools: { to: mapped(), note: "custom tools; Anthropic's versioned server tools (web_search, bash, …) are dropped" },
    tool_choice: { to: mapped(), note: "any → required; disable_parallel_tool_use → parallel_tool_calls: false" },
    thinking: { to: mapped(), note: "→ reasoning_effort / reasoning.effort / thinkingConfig.thinkingBudget, for models declared with capabilities: [reasoning]" },
    output_config: { to: mapped(), note: "effort → reasoning effort / thinkingConfig; format (json_schema) → response_format / text.format / responseJsonSchema" },
    output_format: { to: mapped(), note: "beta spelling of output_config.format" },
    metadata: { to: only("chat_completions", "responses"), note: "user_id → user (hashed when longer than 64 characters); Gemini has no end-user field" },
    service_tier: { to: dropped(), note: "Anthropic's tiers have other values" },
    container: { to: dropped(), note: "Anthropic's code-execution container" },
    mcp_servers: { to: dropped(), note: "Anthropic's remote MCP connector" },
    context_management: { to: dropped(), note: "Anthropic's context editing" },
    models: { to: mapped(), note: "BitRouter's own fallback list; removed before any source" },
  },
  responses: {
    model: { to: mapped(), note: "" },
    input: { to: mapped(), note: "messages, function_call / function_call_output, reasoning summaries (a Gemini signature in encrypted_content goes back to Gemini); images and files" },
    instructions: { to: mapped(), note: "→ system prompt" },
    stream: { to: mapped(), note: "" },
    max_output_tokens: { to: mapped(), note: "→ max_tokens / maxOutputTokens" },
    temperature: { to: mapped(), note: "clamped to 0–1 for Messages" },
    top_p: { to: mapped(), note: "" },
    tools: { to: mapped(), note: "function tools; built-in tools (web_search, file_search, custom, local_shell, mcp, …) are dropped" },
    tool_choice: { to: mapped(), note: "" },
    parallel_tool_calls: { to: only("chat_completions", "messages", "responses"), note: "Gemini has no switch for it" },
    reasoning: { to: mapped(), note: "effort → reasoning_effort / thinking / thinkingConfig, for models declared with capabilities: [reasoning]; summary is dropped" },
    text: {
      to: mapped(),
      refuse: (v, target) => (target === "messages" && asObject(asObject(v).format).type === "json_object" ? "asks for json_object (send a json_schema instead)" : false),
      note: "format (json_schema) → response_format / output_config.format / responseJsonSchema; verbosity → verbosity (Chat)",
    },
    user: { to: only("chat_completions", "messages"), note: "→ user / metadata.user_id; Gemini has no end-user field" },
    safety_identifier: { to: only("chat_completions"), note: "" },
    prompt_cache_key: { to: only("chat_completions"), note: "Messages caches by cache_control instead, Gemini by itself" },
    service_tier: { to: only("chat_completions"), note: "" },
    metadata: { to: dropped(), note: "stored-response tags" },
    store: { to: dropped(), note: "nothing is stored by a translated request" },
    include: {
      to: dropped(),
      refuse: (v) => (asArray(v).some((x) => typeof x === "string" && x.includes("logprobs")) ? "asks for log probabilities" : false),
      note: "extra output (encrypted reasoning, sources); refused when it asks for logprobs",
    },
    top_logprobs: { to: dropped(), refuse: (v) => (truthy(v) ? "asks for log probabilities" : false), note: "refused when > 0" },
    truncation: { to: dropped(), note: "the source's own context handling applies" },
    max_tool_calls: { to: dropped(), note: "built-in tool budget" },
    stream_options: { to: dropped(), note: "" },
    background: { to: dropped(), refuse: (v) => (truthy(v) ? "asks for a background response" : false), note: "refused when true: it needs a stored, polled response" },
    previous_response_id: { to: dropped(), refuse: (v) => (truthy(v) ? "continues a stored response (send the whole conversation in `input` instead)" : false), note: "refused: it needs the source's stored state" },
    conversation: { to: dropped(), refuse: (v) => (truthy(v) ? "continues a stored conversation (send the whole conversation in `input` instead)" : false), note: "refused: it needs the source's stored state" },
    prompt: { to: dropped(), refuse: (v) => (truthy(v) ? "uses a stored prompt template" : false), note: "refused: a stored prompt template" },
    models: { to: mapped(), note: "BitRouter's own fallback list; removed before any source" },
  },
  generate_content: {
    contents: { to: mapped(), note: "text, thoughts, inlineData / fileData, functionCall / functionResponse (paired by id, else with the oldest open call of that name); thoughtSignature back to Gemini only" },
    systemInstruction: { to: mapped(), note: "→ system prompt" },
    tools: { to: mapped(), note: "functionDeclarations (parametersJsonSchema or parameters); googleSearch, codeExecution, urlContext and other built-in tools are dropped" },
    toolConfig: { to: mapped(), note: "functionCallingConfig: AUTO / NONE / ANY (one allowed name → that tool)" },
    generationConfig: {
      to: mapped(),
      refuse: (v) => {
        const config = asObject(v);
        if (Number(config.candidateCount) > 1) return "asks for several candidates";
        if (truthy(config.responseLogprobs) || truthy(config.logprobs)) return "asks for log probabilities";
        if (asArray(config.responseModalities).some((m) => typeof m === "string" && m.toUpperCase() !== "TEXT")) return "asks for an answer that is not text";
        if (truthy(config.speechConfig)) return "asks for an audio answer";
        return false;
      },
      note: "maxOutputTokens, temperature, topP, topK (Messages), stopSequences (not Responses), seed and penalties (Chat), thinkingConfig, responseMimeType / responseJsonSchema; refused: candidateCount > 1, logprobs, audio or image answers",
    },
    safetySettings: { to: dropped(), note: "Gemini's own safety thresholds" },
    cachedContent: { to: dropped(), refuse: (v) => (truthy(v) ? "uses a context cache stored at Google (send the content instead)" : false), note: "refused: it needs Google's stored cache" },
    labels: { to: dropped(), note: "billing labels" },
    models: { to: mapped(), note: "BitRouter's own fallback list; removed before any source" },
  },
};

export interface FieldAudit {
  /** Fields that do not reach the source (unknown fields included), for the debug log. */
  dropped: string[];
}

/**
 * Checks a client body bound for a source of another protocol. Returns the dropped fields;
 * throws a 400 (code `unsupported_parameter`, `param` = the field) for one whose loss would
 * change the answer's shape, naming the field and the source.
 */
export function auditRequestFields(client: Protocol, target: Protocol, body: Json, sourceName: string): FieldAudit {
  const rules = REQUEST_FIELDS[client];
  const dropped: string[] = [];
  for (const field of Object.keys(body)) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    const rule = rules[field];
    if (!rule) {
      dropped.push(field);
      continue;
    }
    const why = rule.refuse?.(value, target);
    if (why) throw refusal(field, why, sourceName, target);
    if (rule.to[target] === "dropped") dropped.push(field);
  }
  return { dropped };
}

/**
 * A turn whose every part is of a kind the target cannot take would vanish from the
 * conversation (and a Messages source would take the turn before it as a prefill): refused,
 * naming where it is and what it holds.
 */
export function vanishingTurn(path: string, content: unknown): BitRouterError {
  const types = Array.isArray(content) ? [...new Set(content.map((p) => (p && typeof p === "object" && typeof (p as Json).type === "string" ? (p as Json).type : typeof p)))].join(", ") : typeof content;
  return badRequest(`${path} holds nothing that can cross to another protocol (${types}); send it to a source of the client's protocol, or as text`, "unsupported_parameter", path);
}

/** Whether a content value holds something (a non-empty string or list, or any other value). */
export function hasContent(content: unknown): boolean {
  if (content === undefined || content === null) return false;
  if (typeof content === "string" || Array.isArray(content)) return content.length > 0;
  return true;
}

function refusal(field: string, why: string, sourceName: string, target: Protocol): BitRouterError {
  return badRequest(`'${field}' ${why}; ${sourceName} speaks ${target}, which cannot express it. Pin a source that speaks the client's protocol, or leave the field out.`, "unsupported_parameter", field);
}

const TITLES: Record<Protocol, string> = { chat_completions: "Chat Completions", messages: "Messages", responses: "Responses", generate_content: "Gemini" };

/** The README's loss table (markdown): one table per client protocol, one row per field. */
export function lossTable(): string {
  const protocols = Object.keys(REQUEST_FIELDS) as Protocol[];
  const out: string[] = [];
  for (const client of protocols) {
    const targets = protocols.filter((p) => p !== client);
    out.push(`**${TITLES[client]} clients**`, "", `| field | ${targets.map((t) => `→ ${TITLES[t]}`).join(" | ")} | how |`, `|---|${targets.map(() => "---|").join("")}---|`);
    for (const [field, rule] of Object.entries(REQUEST_FIELDS[client])) {
      const cells = targets.map((t) => {
        const refusable = rule.refuse !== undefined && refusesFor(rule, t);
        return `${rule.to[t] ?? "?"}${refusable ? ", 400 for some values" : ""}`;
      });
      out.push(`| \`${field}\` | ${cells.join(" | ")} | ${rule.note} |`);
    }
    out.push("");
  }
  return out.join("\n").trimEnd();
}

/** Whether a rule refuses anything for this target (json_object is refused only for Messages). */
function refusesFor(rule: FieldRule, target: Protocol): boolean {
  const probes: unknown[] = [true, 2, "x", ["audio"], { type: "json_object" }, { format: { type: "json_object" } }, ["message.output_text.logprobs"], { voice: "x" }, { candidateCount: 2 }];
  return probes.some((p) => rule.refuse!(p, target) !== false);
}
