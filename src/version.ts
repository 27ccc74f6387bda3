// The version printed by `--version` and sent as the upstream User-Agent. The build may
// stamp a commit with --define BUILD_COMMIT.
import pkg from "../package.json" with { type: "json" };

declare const BUILD_COMMIT: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string | undefined = typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : undefined;
