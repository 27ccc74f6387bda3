import { describe, expect, test } from "bun:test";
import { parseConfigText } from "../../src/config/load.ts";
import { applyDetection, type DetectedServer, detectSettings, probeTargets } from "../../src/sources/detect.ts";
import { buildRegistry } from "../../src/sources/registry.ts";

const server = (id: string, origin: string, models = ["llama3.1"]): DetectedServer => ({
  id,
  kind: "ollama",
  origin,
  apiBase: `${origin}/v1`,
  models: models.map((m) => ({ id: m, upstreamId: m })),
  detectedAt: Date.parse("2026-11-24T12:00:00Z"),
});

describe("detection settings and targets", () => {
  test("on by default; `detect: false` turns it off; hosts add targets; the interval can come from the environment", () => {
    expect(detectSettings({}, {})).toEqual({ enabled: true, intervalMs: 10_000, timeoutMs: 400, hosts: [] });
    expect(detectSettings(parseConfigText("detect: false\n", "f.yaml", {}).config, {}).enabled).toBe(false);
    expect(detectSettings({ detect: { interval_secs: 5 } }, { BITROUTER_DETECT_INTERVAL_SECS: "1" }).intervalMs).toBe(1000);
    const targets = probeTargets({ enabled: true, intervalMs: 1, timeoutMs: 1, hosts: ["gpu-box", "10.0.0.5:11434"] });
    expect(targets.filter((t) => t.host === "127.0.0.1").map((t) => `${t.kind}:${t.port}`)).toEqual(["ollama:11434", "vllm:8000", "llamacpp:8080", "lmstudio:1234"]);
    expect(targets.filter((t) => t.host === "gpu-box")).toHaveLength(4);
    expect(targets.find((t) => t.host === "10.0.0.5")).toEqual({ host: "10.0.0.5", port: 11434 });
  });

  test("BitRouter's own listen address is never probed (listening on 8080 must not find itself as llama.cpp)", () => {
    const base = { enabled: true, intervalMs: 1, timeoutMs: 1, hosts: ["localhost:8080", "gpu-box"] };
    const mine = (self: { host: string; port: number }) => probeTargets({ ...base, self }).map((t) => `${t.host}:${t.port}`);
    expect(mine({ host: "127.0.0.1", port: 8080 })).not.toContain("127.0.0.1:8080");
    expect(mine({ host: "127.0.0.1", port: 8080 })).not.toContain("localhost:8080");
    expect(mine({ host: "0.0.0.0", port: 8080 })).not.toContain("127.0.0.1:8080");
    // Another machine on the same port is someone else.
    expect(mine({ host: "127.0.0.1", port: 8080 })).toContain("gpu-box:8080");
    expect(mine({ host: "127.0.0.1", port: 4356 })).toContain("127.0.0.1:8080");
  });
});

describe("detected servers in the registry", () => {
  const registryFor = (yaml: string) => buildRegistry({ ...parseConfigText(yaml, "f.yaml", {}), path: "f.yaml" }, {});
  const settings = detectSettings({}, {});

  test("an unconfigured built-in becomes active, first in the cascade, saying where and when it was found", () => {
    const registry = applyDetection(registryFor(""), [server("ollama", "http://127.0.0.1:11434")], settings);
    expect(registry.sources.get("ollama")).toMatchObject({ active: true, kind: "self-hosted", apiBase: "http://127.0.0.1:11434/v1", modelsFrom: "detection", reason: "detected at http://127.0.0.1:11434 at 12:00:00 UTC" });
    expect([...registry.sources.values()].filter((s) => s.active)[0]?.id).toBe("ollama");
    expect(registry.sources.get("vllm")?.reason).toBe("not configured, and nothing answers on 127.0.0.1:8000");
  });

  test("another address is a source of its own; an address a configured provider uses is left to it", () => {
    const registry = applyDetection(
      registryFor("providers:\n  mine:\n    api_base: http://localhost:11434/v1\n    models: [{ id: custom }]\n"),
      [server("ollama", "http://127.0.0.1:11434"), server("ollama@gpu-box", "http://gpu-box:11434")],
      settings,
    );
    expect(registry.sources.get("ollama")?.active).toBe(false);
    expect(registry.sources.get("ollama@gpu-box")).toMatchObject({ active: true, models: [{ id: "llama3.1", upstreamId: "llama3.1" }] });
  });

  test("a server found on another host keeps to the configured upstream.timeouts, like every other source", () => {
    const registry = applyDetection(registryFor("upstream:\n  timeouts:\n    read_secs: 2\n    total_secs: 30\n"), [server("ollama@gpu-box", "http://gpu-box:11434")], settings);
    expect(registry.sources.get("ollama@gpu-box")?.timeouts).toEqual({ connectMs: 10_000, readMs: 2000, totalMs: 30_000 });
  });
});
