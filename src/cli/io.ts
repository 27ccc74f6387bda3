// What a command may touch, passed in so that commands are testable without a process.
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  homeDir: string;
}

/** Exit codes (SPEC §2). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f]/g;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text for a terminal: control characters other than newline and tab shown as `\u001b`, never
 * sent raw (a model name a client chose must not retitle or recolour the operator's terminal).
 */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/** One value inside a line (a model name, a reason): newlines escaped too, so it cannot forge a row. */
export function printable(value: string): string {
  return value.replace(CONTROL_OR_NEWLINE, escapeChar);
}
