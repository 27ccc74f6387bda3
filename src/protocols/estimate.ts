// BitRouter's own input-token estimate, for count_tokens when no source can count and for a
// Messages stream's opening usage when the source reports its counts only at the end: a quarter
// of the characters of every text the model would read, plus a few tokens per message.
import type { Part, Request } from "./ir.ts";

export function estimateTokens(ir: Request): number {
  let chars = ir.system.reduce((n, s) => n + s.text.length, 0);
  const partChars = (part: Part): number => {
    switch (part.type) {
      case "text":
      case "refusal":
      case "reasoning":
        return part.text.length;
      case "tool_call":
        return part.name.length + part.arguments.length;
      case "tool_result":
        return part.content.reduce((n, p) => n + partChars(p), 0);
      case "image":
      case "document":
        return 6000; // about 1,500 tokens, Anthropic's figure for a mid-sized image
    }
  };
  for (const message of ir.messages) chars += message.content.reduce((n, p) => n + partChars(p), 0);
  for (const tool of ir.tools) chars += tool.name.length + (tool.description?.length ?? 0) + JSON.stringify(tool.parameters).length;
  return Math.ceil(chars / 4) + 3 * ir.messages.length + (ir.tools.length > 0 ? 100 : 0);
}
