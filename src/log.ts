// One line per event, `key=value` fields, to a writer passed in (stderr in the binary).
// Callers never pass secrets; upstream text is scrubbed before it gets here (scrubSecrets).

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: { level: LogLevel; write: (line: string) => void; clock?: () => Date }): Logger {
  const clock = options.clock ?? (() => new Date());
  const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (ORDER[level] < ORDER[options.level]) return;
    let line = `${clock().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      line += ` ${key}=${formatValue(value)}`;
    }
    options.write(`${line}\n`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

function formatValue(value: string | number | boolean | null): string {
  if (typeof value !== "string") return String(value);
  return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const KEY_LIKE = /\b(sk-[\w-]{6,}|sk_[\w-]{6,}|Bearer\s+[\w.~+/-]{8,}|[\w-]*api[_-]?key[\w-]*["']?\s*[:=]\s*["']?[\w.-]{8,})/gi;

/** Remove a known secret and anything that looks like a key from text that came from upstream. */
export function scrubSecrets(text: string, secret?: string): string {
  let out = text;
  if (secret && secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out.replace(KEY_LIKE, "[redacted]");
}
