// Google's JSON mapping accepts every field in camelCase or snake_case (`system_instruction`,
// `inline_data`, `generation_config`), and its own curl examples use the latter. A Gemini body is
// brought to camelCase once, at the edge, so the routes, the loss audit and the codec read one
// spelling. Only structural keys are renamed: a call's `args`, a function's `response` and every
// schema (`parameters`, `responseSchema`, …) are the client's data and pass untouched. Pure.
import { isObject, type Json } from "../json.ts";

type Shape = (value: unknown) => unknown;

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** An object with its own keys in camelCase, and the named children shaped in turn. */
function keys(children: Record<string, Shape> = {}): Shape {
  return (value) => {
    if (!isObject(value)) return value;
    const out: Json = {};
    for (const [key, child] of Object.entries(value)) {
      const name = camel(key);
      out[name] = children[name] ? children[name](child) : child;
    }
    return out;
  };
}

const list =
  (shape: Shape): Shape =>
  (value) =>
    Array.isArray(value) ? value.map(shape) : value;

const flat = keys();
const part = keys({ inlineData: flat, fileData: flat, functionCall: flat, functionResponse: flat, executableCode: flat, codeExecutionResult: flat, videoMetadata: flat });
const content = keys({ parts: list(part) });
const request = keys({
  contents: list(content),
  systemInstruction: content,
  tools: list(keys({ functionDeclarations: list(flat) })),
  toolConfig: keys({ functionCallingConfig: flat }),
  generationConfig: keys({ thinkingConfig: flat, speechConfig: flat }),
  safetySettings: list(flat),
});
const countRequest = keys({ contents: list(content), generateContentRequest: request });

/** A generateContent body in camelCase (a body that is not an object is returned as it is). */
export function camelGeminiRequest(body: unknown): unknown {
  return request(body);
}

/** A countTokens body (`{contents}` or `{generateContentRequest}`) in camelCase. */
export function camelGeminiCountRequest(body: unknown): unknown {
  return countRequest(body);
}
