// Run as a child process by the credential-store test: starts a credentials write and dies by
// SIGKILL in the middle of it (`during-write`: half the bytes written; `before-rename`: the new
// file complete but not yet renamed into place).
import { closeSync, openSync, writeSync } from "node:fs";
import { createCredentialStore, nodeFileOps } from "../../src/subscriptions/credentials.ts";

const [path, moment] = process.argv.slice(2) as [string, "during-write" | "before-rename"];
const store = createCredentialStore(path, {
  ...nodeFileOps,
  writeFile(target, data) {
    if (moment === "during-write") {
      const fd = openSync(target, "w", 0o600);
      writeSync(fd, data.slice(0, Math.floor(data.length / 2)));
      closeSync(fd);
      process.kill(process.pid, "SIGKILL");
    }
    nodeFileOps.writeFile(target, data);
  },
  rename(from, to) {
    if (moment === "before-rename") process.kill(process.pid, "SIGKILL");
    nodeFileOps.rename(from, to);
  },
});
store.put("anthropic", { type: "oauth", access_token: "new-token", refresh_token: "new-refresh", expires_at: 2 });
