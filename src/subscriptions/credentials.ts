// credentials.json under BITROUTER_HOME: OAuth tokens by provider and label. Mode 0600, written
// atomically (a temp file in the same folder, flushed, then renamed over the old one), so a crash
// in the middle of a write leaves the previous file as it was. Tokens are never logged.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

export interface OAuthCredential {
  type: "oauth";
  access_token: string;
  refresh_token: string;
  /** Unix seconds; 0 = unknown. */
  expires_at: number;
  /** Who, when the plan told us: shown by `bitrouter status`. */
  account?: { email?: string; plan?: string; account_id?: string };
  /** "login", or the tool whose login was imported. */
  obtained_via?: string;
}

/** `{ "<provider>": { "<label>": credential } }`, as the original's store. */
export type CredentialFile = Record<string, Record<string, OAuthCredential>>;

export interface FileOps {
  readFile(path: string): string;
  /** Write the whole file (mode 0600) and flush it to disk. */
  writeFile(path: string, data: string): void;
  rename(from: string, to: string): void;
  remove(path: string): void;
}

export const nodeFileOps: FileOps = {
  readFile: (path) => readFileSync(path, "utf8"),
  writeFile(path, data) {
    const fd = openSync(path, "w", 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  rename: renameSync,
  remove: (path) => unlinkSync(path),
};

export class CredentialFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "CredentialFileError";
  }
}

export interface CredentialStore {
  readonly path: string;
  /** The whole file as it is on disk now ({} when there is none). */
  load(): CredentialFile;
  get(provider: string, label?: string): OAuthCredential | undefined;
  put(provider: string, credential: OAuthCredential, label?: string): void;
  /** Removes one label of the provider, or every label; returns whether there was any. */
  remove(provider: string, label?: string): boolean;
}

export function credentialsPath(home: string): string {
  return join(home, "credentials.json");
}

export function createCredentialStore(path: string, ops: FileOps = nodeFileOps): CredentialStore {
  const load = (): CredentialFile => {
    let text: string;
    try {
      text = ops.readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw new CredentialFileError(path, `cannot read: ${(err as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as CredentialFile;
    } catch {
      // fall through
    }
    throw new CredentialFileError(path, "is not valid JSON; fix or delete it, then log in again");
  };
  const save = (file: CredentialFile) => {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    try {
      ops.writeFile(temp, `${JSON.stringify(file, null, 2)}\n`);
      ops.rename(temp, path);
    } catch (err) {
      try {
        ops.remove(temp);
      } catch {
        // already gone
      }
      throw err;
    }
  };
  return {
    path,
    load,
    get: (provider, label = "default") => load()[provider]?.[label],
    put(provider, credential, label = "default") {
      const file = load();
      file[provider] = { ...(file[provider] ?? {}), [label]: credential };
      save(file);
    },
    remove(provider, label) {
      const file = load();
      const logins = file[provider];
      if (!logins) return false;
      if (label === undefined) delete file[provider];
      else {
        if (!logins[label]) return false;
        delete logins[label];
        if (Object.keys(logins).length === 0) delete file[provider];
      }
      save(file);
      return true;
    },
  };
}
