// Google Gemini's generateContent (SPEC §18) ↔ the intermediate representation: requests,
// whole answers and stream events, pure. The wire format is Google's public generateContent
// reference and the @google/genai SDK's types: `contents[].parts[]` with text (`thought: true`
// for thinking), inlineData, fileData, functionCall, functionResponse; `systemInstruction`;
// `tools[].functionDeclarations`; `toolConfig`; `generationConfig`; `usageMetadata`. A stream is
// one whole GenerateContentResponse per `data:` line, with no terminator.
//
// Thought signatures: Gemini puts an opaque `thoughtSignature` on the part it belongs to and
// refuses the next turn when a function call comes back without it. In the IR it travels as a
// reasoning part's `signature`, marked `gemini:` so that it goes back only to Gemini (Anthropic
// would refuse a foreign signature) and reaches a client in that protocol's own slot.
import { argumentsText, GEMINI_SIGNATURE, isBlank, isGeminiSignature, withCallIds, parseArguments, type Part, type Request, type Response, type StopReason, type StreamDecoder, type StreamEncoder, type StreamEvent, type Tool, type ToolChoice, type Usage } from "../ir.ts";
import { asArray, asNumber, asObject, asString, isObject, type Json, malformed, parseEventData } from "../json.ts";
import { geminiErrorFrame } from "./errors.ts";
import { jsonSchemaFromGemini } from "./schema.ts";

// ── Requests ────────────────────────────────────────────────────────────────────────────

/**
 * A deterministic id for a call sent without one. In a client's history `salt` is empty: the
 * same history gets the same ids (prompt caches keep hitting), and `ordinal` counts calls across
 * the whole conversation, so a call repeated in a later turn differs. In a source's answer the
 * salt is its responseId: the same call in two answers gets two ids (Anthropic refuses a
 * history with a repeated tool_use id).
 */
function geminiCallId(name: string, args: string, ordinal: number, salt = ""): string {
  return `call_${Bun.hash(`${name}\u0000${args}\u0000${ordinal}\u0000${salt}`).toString(36)}`;
}

/**
 * A generateContent body in camelCase (the routes bring Google's snake_case spellings to it once,
 * see normalize.ts) → the IR. Calls without an id get geminiCallId's deterministic ones; each
 * functionResponse is paired with its call by id, else with the oldest open call of its name
 * that no later response claims by id.
 */
export function decodeGeminiRequest(body: Json): Request {
  const generation = asObject(body.generationConfig);
  const thinking = asObject(generation.thinkingConfig);
  const messages: Request["messages"] = [];
  // Calls by name, oldest first, still waiting for their result: a response without an id
  // pairs with the earliest open call of its name, never with whatever sits at its position.
  const open = new Map<string, string[]>();
  // Ids that a response claims by name: a response without an id never takes one of those.
  const claimed = new Set<string>();
  for (const item of asArray(body.contents)) {
    for (const raw of asArray(asObject(item).parts)) {
      const id = asString(asObject(asObject(raw).functionResponse).id);
      if (id) claimed.add(id);
    }
  }
  let ordinal = 0;
  let unmatched = 0;
  for (const item of asArray(body.contents)) {
    const content = asObject(item);
    const role = content.role === "model" ? "assistant" : "user";
    const parts: Part[] = [];
    for (const raw of asArray(content.parts)) {
      const part = asObject(raw);
      const signature = asString(part.thoughtSignature);
      if (signature) parts.push({ type: "reasoning", text: "", signature: GEMINI_SIGNATURE + signature });
      if (typeof part.text === "string") {
        if (part.thought === true) parts.push({ type: "reasoning", text: part.text });
        else parts.push({ type: "text", text: part.text });
      } else if (isObject(part.inlineData)) {
        const data = asObject(part.inlineData);
        const mediaType = asString(data.mimeType) ?? "application/octet-stream";
        const source = { kind: "base64" as const, mediaType, data: asString(data.data) ?? "" };
        parts.push(mediaType.startsWith("image/") ? { type: "image", source } : { type: "document", source });
      } else if (isObject(part.fileData)) {
        const file = asObject(part.fileData);
        const source = { kind: "url" as const, url: asString(file.fileUri) ?? "" };
        parts.push((asString(file.mimeType) ?? "").startsWith("image/") ? { type: "image", source } : { type: "document", source });
      } else if (isObject(part.functionCall)) {
        const call = asObject(part.functionCall);
        const name = asString(call.name) ?? "";
        const args = argumentsText(call.args) ?? "{}";
        // An empty id is no id (a client that echoed a blank one back).
        const id = asString(call.id) || geminiCallId(name, args, ordinal);
        ordinal++;
        open.set(name, [...(open.get(name) ?? []), id]);
        parts.push({ type: "tool_call", id, name, arguments: args });
      } else if (isObject(part.functionResponse)) {
        const result = asObject(part.functionResponse);
        const name = asString(result.name) ?? "";
        const waiting = open.get(name) ?? [];
        const id = asString(result.id) || waiting.find((w) => !claimed.has(w)) || geminiCallId(name, "", -1 - unmatched++);
        open.set(
          name,
          waiting.filter((w) => w !== id),
        );
        const response = asObject(result.response);
        const error = response.error !== undefined;
        const output = typeof result.response === "string" ? result.response : (response.output ?? response.result ?? response.content ?? response.error);
        const text = typeof output === "string" ? output : JSON.stringify(output ?? response);
        parts.push({ type: "tool_result", callId: id, content: [{ type: "text", text }], ...(error ? { isError: true } : {}) });
      }
    }
    messages.push({ role, content: parts });
  }

  const tools: Tool[] = asArray(body.tools).flatMap((t) =>
    asArray(asObject(t).functionDeclarations).map((d) => {
      const decl = asObject(d);
      return {
        name: asString(decl.name) ?? "",
        ...(asString(decl.description) ? { description: asString(decl.description) } : {}),
        // `parameters` is Google's own Schema (OpenAPI subset, `type: "OBJECT"`); the other field is JSON Schema.
        parameters: decl.parametersJsonSchema !== undefined ? asObject(decl.parametersJsonSchema) : jsonSchemaFromGemini(decl.parameters),
      };
    }),
  );

  const schema = generation.responseJsonSchema ?? (generation.responseSchema !== undefined ? jsonSchemaFromGemini(generation.responseSchema) : undefined);
  const effort = asString(thinking.thinkingLevel)?.toLowerCase();
  const budget = asNumber(thinking.thinkingBudget);
  return {
    model: "",
    system: asArray(asObject(body.systemInstruction).parts)
      .map((p) => asString(asObject(p).text))
      .filter((t): t is string => t !== undefined)
      .map((text) => ({ text })),
    messages,
    tools,
    toolChoice: toolChoiceOf(asObject(asObject(body.toolConfig).functionCallingConfig)),
    maxTokens: asNumber(generation.maxOutputTokens),
    temperature: asNumber(generation.temperature),
    topP: asNumber(generation.topP),
    topK: asNumber(generation.topK),
    stop: stopSequences(generation.stopSequences),
    seed: asNumber(generation.seed),
    presencePenalty: asNumber(generation.presencePenalty),
    frequencyPenalty: asNumber(generation.frequencyPenalty),
    // A budget of 0 turns thinking off; -1 lets the model decide.
    reasoning: budget === 0 ? undefined : effort || (budget !== undefined && budget > 0) ? { ...(effort ? { effort } : {}), ...(budget !== undefined && budget > 0 ? { budgetTokens: budget } : {}) } : undefined,
    responseFormat: generation.responseMimeType === "application/json" ? (schema !== undefined ? { type: "json_schema", schema } : { type: "json_object" }) : undefined,
    stream: false,
  };
}

function stopSequences(value: unknown): string[] | undefined {
  const stops = asArray(value).filter((s): s is string => typeof s === "string");
  return stops.length > 0 ? stops : undefined;
}

function toolChoiceOf(config: Json): ToolChoice | undefined {
  const mode = asString(config.mode)?.toUpperCase();
  const allowed = asArray(config.allowedFunctionNames).filter((n): n is string => typeof n === "string");
  if (mode === "NONE") return { type: "none" };
  if (mode === "ANY") return allowed.length === 1 ? { type: "tool", name: allowed[0]! } : { type: "required" };
  if (mode === "AUTO") return { type: "auto" };
  return undefined;
}

const EFFORT_BUDGET: Record<string, number> = { minimal: 512, low: 1024, medium: 8192, high: 24576, xhigh: 32768, max: 32768 };

/**
 * The IR → a generateContent body (camelCase; the model and the stream choice go in the URL,
 * see endpointUrl). Only Gemini's own signatures are sent, each on the part after its thoughts;
 * a model turn's first call always carries one (signedCalls); blank text is never sent.
 */
export function encodeGeminiRequest(ir: Request): Json {
  const names = new Map<string, string>();
  for (const m of ir.messages) for (const p of m.content) if (p.type === "tool_call") names.set(p.id, p.name);
  const contents = ir.messages
    .map((m) => (m.role === "assistant" ? { role: "model", parts: signedCalls(encodeParts(m.content, names)) } : { role: "user", parts: encodeParts(m.content, names) }))
    .filter((c) => c.parts.length > 0);
  const generation: Json = {};
  if (ir.maxTokens !== undefined) generation.maxOutputTokens = ir.maxTokens;
  if (ir.temperature !== undefined) generation.temperature = ir.temperature;
  if (ir.topP !== undefined) generation.topP = ir.topP;
  if (ir.topK !== undefined) generation.topK = ir.topK;
  if (ir.stop && ir.stop.length > 0) generation.stopSequences = ir.stop;
  if (ir.seed !== undefined) generation.seed = ir.seed;
  if (ir.presencePenalty !== undefined) generation.presencePenalty = ir.presencePenalty;
  if (ir.frequencyPenalty !== undefined) generation.frequencyPenalty = ir.frequencyPenalty;
  if (ir.reasoning) {
    const budget = ir.reasoning.budgetTokens ?? EFFORT_BUDGET[ir.reasoning.effort ?? "medium"] ?? 8192;
    generation.thinkingConfig = { thinkingBudget: budget, includeThoughts: true };
  }
  if (ir.responseFormat) {
    generation.responseMimeType = "application/json";
    if (ir.responseFormat.type === "json_schema") generation.responseJsonSchema = ir.responseFormat.schema;
  }
  const body: Json = { contents };
  const system = ir.system.map((s) => s.text).filter((t) => !isBlank(t));
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };
  if (ir.tools.length > 0) {
    // The native API takes full JSON Schema here, so nothing has to be cleaned away.
    body.tools = [{ functionDeclarations: ir.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parametersJsonSchema: t.parameters })) }];
  }
  const choice = ir.toolChoice;
  if (choice && ir.tools.length > 0) {
    const config: Json =
      choice.type === "none" ? { mode: "NONE" } : choice.type === "required" ? { mode: "ANY" } : choice.type === "tool" ? { mode: "ANY", allowedFunctionNames: [choice.name] } : { mode: "AUTO" };
    body.toolConfig = { functionCallingConfig: config };
  }
  if (Object.keys(generation).length > 0) body.generationConfig = generation;
  return body;
}

/** A signature Gemini issued, as Gemini wants it back; undefined for another vendor's (meaningless to Gemini). */
function ownSignature(signature: string | undefined): string | undefined {
  return isGeminiSignature(signature) ? signature.slice(GEMINI_SIGNATURE.length) : undefined;
}

/**
 * The value Google documents for a function call whose signature is unknown (a turn another
 * model wrote, or a client that dropped it): Gemini 3 refuses such a turn with a 400 otherwise.
 */
export const UNKNOWN_SIGNATURE = "skip_thought_signature_validator";

/**
 * A model turn's parts with its first call signed: Gemini 3 refuses a turn whose first call has
 * no signature. The real one is kept when there is one; the stand-in otherwise. Copies only on change.
 */
function signedCalls<T>(parts: T[]): T[] {
  const index = parts.findIndex((p) => isObject(p) && p.functionCall !== undefined);
  const part = parts[index];
  if (!isObject(part) || part.thoughtSignature !== undefined) return parts;
  const signed = [...parts];
  signed[index] = { ...part, thoughtSignature: UNKNOWN_SIGNATURE } as T;
  return signed;
}

/** A Gemini client's own contents, for a Gemini source: each model turn's first call signed (signedCalls). */
export function withStandInSignatures(contents: unknown): unknown {
  if (!Array.isArray(contents)) return contents;
  let changed = false;
  const out = contents.map((item) => {
    if (!isObject(item) || item.role !== "model" || !Array.isArray(item.parts)) return item;
    const parts = signedCalls(item.parts);
    if (parts === item.parts) return item;
    changed = true;
    return { ...item, parts };
  });
  return changed ? out : contents;
}

/**
 * Gemini parts being built: a signature waits for the part after it (where Gemini wants it), and
 * one with nothing after it goes out on an empty part.
 */
function partsBuilder() {
  const parts: Json[] = [];
  let signature: string | undefined;
  return {
    sign(value: string) {
      // Two signatures with nothing between them: the first keeps its own (empty) part.
      if (signature) parts.push({ text: "", thoughtSignature: signature });
      signature = value;
    },
    push(part: Json) {
      if (signature) part.thoughtSignature = signature;
      signature = undefined;
      parts.push(part);
    },
    done(): Json[] {
      if (signature) parts.push({ text: "", thoughtSignature: signature });
      signature = undefined;
      return parts;
    },
  };
}

/** IR parts → Gemini request parts. Only Gemini's own signatures go back; empty text is never sent. */
function encodeParts(content: Part[], names: Map<string, string>): Json[] {
  const out = partsBuilder();
  for (const p of content) {
    switch (p.type) {
      case "text":
        if (!isBlank(p.text)) out.push({ text: p.text });
        break;
      case "reasoning": {
        // A signed thinking block holds the thoughts and, last, the signature of the part after
        // them (Gemini sent it there): the thoughts go first, the signature rides on what follows.
        if (!isBlank(p.text)) out.push({ text: p.text, thought: true });
        const own = ownSignature(p.signature);
        if (own) out.sign(own);
        break;
      }
      case "image":
      case "document": {
        const source = p.source;
        if (source.kind === "base64") out.push({ inlineData: { mimeType: source.mediaType, data: source.data } });
        else if (source.kind === "url") out.push({ fileData: { fileUri: source.url, ...(p.type === "image" ? {} : { mimeType: "application/pdf" }) } });
        else if (!isBlank(source.text)) out.push({ text: source.text });
        break;
      }
      case "tool_call":
        out.push({ functionCall: { id: p.id, name: p.name, args: parseArguments(p.arguments) } });
        break;
      case "tool_result": {
        const text = p.content.map((c) => (c.type === "text" ? c.text : "")).join("");
        out.push({ functionResponse: { id: p.callId, name: names.get(p.callId) ?? "", response: p.isError ? { error: text } : { output: text } } });
        break;
      }
      case "refusal":
        if (!isBlank(p.text)) out.push({ text: p.text });
        break;
    }
  }
  return out.done();
}

// ── Answers ─────────────────────────────────────────────────────────────────────────────

const FINISH: Record<string, StopReason> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter",
  MALFORMED_FUNCTION_CALL: "error",
};

/** Gemini's usage → ours: prompt includes cached tokens; our output includes thoughts (Gemini counts them apart). */
export function readGeminiUsage(meta: Json): Usage {
  const thoughts = asNumber(meta.thoughtsTokenCount);
  const usage: Usage = { inputTokens: (asNumber(meta.promptTokenCount) ?? 0) + (asNumber(meta.toolUsePromptTokenCount) ?? 0), outputTokens: (asNumber(meta.candidatesTokenCount) ?? 0) + (thoughts ?? 0) };
  const cached = asNumber(meta.cachedContentTokenCount);
  if (cached !== undefined) usage.cacheReadTokens = cached;
  if (thoughts !== undefined) usage.reasoningTokens = thoughts;
  return usage;
}

/** A stream chunk's counts: Gemini repeats the prompt's on every chunk, the output's only once it has some. */
function partialUsage(meta: Json): Partial<Usage> {
  const usage: Partial<Usage> = readGeminiUsage(meta);
  if (meta.candidatesTokenCount === undefined && meta.thoughtsTokenCount === undefined) delete usage.outputTokens;
  if (meta.promptTokenCount === undefined && meta.toolUsePromptTokenCount === undefined) delete usage.inputTokens;
  return usage;
}

function writeGeminiUsage(usage: Usage): Json {
  const thoughts = usage.reasoningTokens ?? 0;
  const candidates = Math.max(0, usage.outputTokens - thoughts);
  return {
    promptTokenCount: usage.inputTokens,
    candidatesTokenCount: candidates,
    totalTokenCount: usage.inputTokens + usage.outputTokens,
    ...(usage.cacheReadTokens ? { cachedContentTokenCount: usage.cacheReadTokens } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
}

/** A whole answer → the IR; `salt` (the attempt's own) stands in for a missing responseId in call ids. */
export function decodeGeminiResponse(body: Json, salt = ""): Response {
  const candidate = asObject(asArray(body.candidates)[0]);
  const answer = asString(body.responseId) || salt;
  const content: Part[] = [];
  let ordinal = 0;
  for (const raw of asArray(asObject(candidate.content).parts)) {
    const part = asObject(raw);
    const signature = asString(part.thoughtSignature);
    if (signature) content.push({ type: "reasoning", text: "", signature: GEMINI_SIGNATURE + signature });
    if (typeof part.text === "string") {
      if (part.text === "") continue;
      content.push(part.thought === true ? { type: "reasoning", text: part.text } : { type: "text", text: part.text });
    } else if (isObject(part.functionCall)) {
      const name = asString(part.functionCall.name) ?? "";
      const args = argumentsText(part.functionCall.args) ?? "{}";
      content.push({ type: "tool_call", id: asString(part.functionCall.id) || geminiCallId(name, args, ordinal, answer), name, arguments: args });
      ordinal++;
    }
  }
  const called = content.some((p) => p.type === "tool_call");
  // A prompt the source's filter blocked comes back with promptFeedback and no candidate.
  const blocked = asArray(body.candidates).length === 0 && asString(asObject(body.promptFeedback).blockReason) !== undefined;
  const finish = blocked ? "content_filter" : (FINISH[asString(candidate.finishReason) ?? "STOP"] ?? "stop");
  return {
    id: asString(body.responseId) ?? "",
    content,
    stopReason: called && finish === "stop" ? "tool_calls" : finish,
    usage: isObject(body.usageMetadata) ? readGeminiUsage(body.usageMetadata) : null,
  };
}

export interface GeminiContext {
  model: string;
  responseId: string;
}

/** Our parts → a Gemini candidate's parts: reasoning as thoughts, signatures on the part after them. */
function answerParts(content: Part[]): Json[] {
  const out = partsBuilder();
  for (const p of content) {
    if (p.type === "reasoning") {
      const own = ownSignature(p.signature);
      if (own) out.sign(own);
      if (p.text) out.push({ text: p.text, thought: true });
    } else if (p.type === "text" || p.type === "refusal") {
      if (p.text) out.push({ text: p.text });
    } else if (p.type === "tool_call") out.push({ functionCall: { id: p.id, name: p.name, args: parseArguments(p.arguments) } });
  }
  return out.done();
}

const FINISH_OUT: Record<StopReason, string> = { stop: "STOP", tool_calls: "STOP", length: "MAX_TOKENS", content_filter: "SAFETY", pause: "STOP", error: "OTHER" };

/** The IR → a whole GenerateContentResponse for a Gemini client; `modelVersion` is the model it asked for. */
export function encodeGeminiResponse(ir: Response, context: GeminiContext): Json {
  // A source that sent calls without ids (some Chat servers): ids of this answer's own.
  const content = withCallIds(ir.content, (n) => geminiCallId("", "", n, context.responseId));
  return {
    candidates: [{ content: { role: "model", parts: answerParts(content) }, finishReason: FINISH_OUT[ir.stopReason], index: 0 }],
    ...(ir.usage ? { usageMetadata: writeGeminiUsage(ir.usage) } : {}),
    modelVersion: context.model,
    responseId: context.responseId,
  };
}

// ── Streams ─────────────────────────────────────────────────────────────────────────────

/**
 * A source's stream → IR events. Each `data:` is a whole GenerateContentResponse whose parts are
 * the new content; the chunk with a finishReason ends the answer (finish, then done). `salt`
 * stands in for a missing responseId in call ids, as in decodeGeminiResponse.
 */
export function geminiStreamDecoder(salt = ""): StreamDecoder {
  let calls = 0;
  let finished = false;
  let answer: string | undefined;
  return {
    decode(_event, data) {
      const chunk = parseEventData(data);
      if (!chunk) return [malformed()];
      if (isObject(chunk.error)) return [{ type: "error", message: asString(chunk.error.message) ?? "upstream error" }];
      if (chunk.candidates !== undefined && !Array.isArray(chunk.candidates)) return [malformed("candidates")];
      const first = asArray(chunk.candidates)[0];
      if (first !== undefined && !isObject(first)) return [malformed("a candidate")];
      const events: StreamEvent[] = [];
      const candidate = asObject(first);
      for (const raw of asArray(asObject(candidate.content).parts)) {
        const part = asObject(raw);
        const signature = asString(part.thoughtSignature);
        if (signature) events.push({ type: "reasoning_signature", signature: GEMINI_SIGNATURE + signature });
        if (typeof part.text === "string") {
          if (part.text) events.push(part.thought === true ? { type: "reasoning", text: part.text } : { type: "text", text: part.text });
        } else if (isObject(part.functionCall)) {
          const name = asString(part.functionCall.name) ?? "";
          const args = argumentsText(part.functionCall.args) ?? "{}";
          answer ??= asString(chunk.responseId) || salt;
          events.push({ type: "tool_call", index: calls, id: asString(part.functionCall.id) || geminiCallId(name, args, calls, answer), name, arguments: args });
          calls++;
        }
      }
      if (isObject(chunk.usageMetadata)) events.push({ type: "usage", usage: partialUsage(chunk.usageMetadata) });
      const blocked = asArray(chunk.candidates).length === 0 && asString(asObject(chunk.promptFeedback).blockReason) !== undefined;
      const reason = blocked ? "SAFETY" : asString(candidate.finishReason);
      if (reason && !finished) {
        finished = true;
        const finish = FINISH[reason] ?? "stop";
        events.push({ type: "finish", reason: calls > 0 && finish === "stop" ? "tool_calls" : finish }, { type: "done" });
      }
      return events;
    },
  };
}

/**
 * Stream events → Gemini stream chunks, each a whole GenerateContentResponse on a `data:` line.
 * Text and thoughts go out as they come; a tool call goes out whole (Gemini has no partial
 * calls), when its arguments are complete: at the next call or at the finish. A signature rides
 * on the part that follows it.
 */
export function geminiStreamEncoder(context: GeminiContext): StreamEncoder {
  const calls: { id: string; name: string; arguments: string; signature?: string }[] = [];
  let pendingCall: number | undefined;
  let signature: string | undefined;
  const chunk = (parts: Json[]) => `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts }, index: 0 }], modelVersion: context.model, responseId: context.responseId })}\r\n\r\n`;
  const withSignature = (part: Json): Json => {
    if (signature) part.thoughtSignature = signature;
    signature = undefined;
    return part;
  };
  const flushCall = (): string => {
    if (pendingCall === undefined) return "";
    const call = calls[pendingCall]!;
    pendingCall = undefined;
    return chunk([{ functionCall: { id: call.id, name: call.name, args: parseArguments(call.arguments) }, ...(call.signature ? { thoughtSignature: call.signature } : {}) }]);
  };
  return {
    encode(event) {
      switch (event.type) {
        case "text":
        case "refusal":
          return event.text ? flushCall() + chunk([withSignature({ text: event.text })]) : "";
        case "reasoning":
          return event.text ? flushCall() + chunk([withSignature({ text: event.text, thought: true })]) : "";
        case "reasoning_signature":
          signature = ownSignature(event.signature) ?? signature;
          return "";
        case "tool_call": {
          if (calls[event.index]) {
            calls[event.index]!.arguments += event.arguments;
            return "";
          }
          const out = flushCall();
          // The signature that came before the call is the call's.
          calls[event.index] = { id: event.id || geminiCallId(event.name ?? "", "", event.index, context.responseId), name: event.name ?? "", arguments: event.arguments, ...(signature ? { signature } : {}) };
          signature = undefined;
          pendingCall = event.index;
          return out;
        }
        default:
          return "";
      }
    },
    close(finish, usage) {
      const last = flushCall();
      const parts = signature ? [{ text: "", thoughtSignature: signature }] : [];
      signature = undefined;
      const body = { candidates: [{ content: { role: "model", parts }, finishReason: FINISH_OUT[finish], index: 0 }], ...(usage ? { usageMetadata: writeGeminiUsage(usage) } : {}), modelVersion: context.model, responseId: context.responseId };
      return `${last}data: ${JSON.stringify(body)}\r\n\r\n`;
    },
    fail: geminiErrorFrame,
  };
}
