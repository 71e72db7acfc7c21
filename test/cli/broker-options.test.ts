/**
 * The CLI hands the broker every option it configures under the broker's own name (src/cli/broker-options.ts),
 * with the values the flags gave, and nothing the broker does not know.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { parseCli } from "../../src/cli/args.js";
import { brokerOptionsOf, CLI_BROKER_KEYS } from "../../src/cli/broker-options.js";
import { defaultText, OPTIONS } from "../../src/cli/option-specs.js";
import { createBroker } from "../../src/index.js";
import { DEFAULT_BROKER_OPTIONS } from "../../src/options.js";

function config(argv: string[]) {
  const c = parseCli(argv, {});
  assert.equal(c.kind, "run");
  return c.config;
}

describe("CLI config → broker options", () => {
  it("passes every CliConfig field named like a broker option, and only those", () => {
    const cfg = config([]);
    const passed = Object.keys(brokerOptionsOf(cfg)).sort();
    const shared = Object.keys(cfg)
      .filter((k) => Object.hasOwn(DEFAULT_BROKER_OPTIONS, k))
      .sort();
    assert.deepEqual(passed, shared);
    assert.ok(passed.includes("historyLimit") && passed.includes("disconnectHookTimeoutMs"));
  });

  it("carries the flags' values, and the broker accepts them", async () => {
    const cfg = config([
      "--history-size",
      "7",
      "--max-buffered-bytes",
      "4096",
      "--heartbeat-ms",
      "0",
      "--publish-token",
      "t0k",
      "--presence-topic",
      "who",
      "--max-connections-per-ip",
      "none",
    ]);
    const o = brokerOptionsOf(cfg);
    assert.equal(o.historyLimit, 7);
    assert.equal(o.maxBufferedBytes, 4096);
    assert.equal(o.heartbeatMs, null);
    assert.equal(o.publishToken, "t0k");
    assert.equal(o.presenceTopic, "who");
    assert.equal(o.maxConnectionsPerIp, null);
    const broker = createBroker({ ...o, demoRoutes: false }); // throws on an option it does not know
    await broker.close();
  });
});

/** Paths (a.b) whose values differ between two plain objects. */
function changed(a: unknown, b: unknown, path = ""): string[] {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      changed(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path === "" ? k : `${path}.${k}`,
      ),
    );
  }
  return Object.is(a, b) ? [] : [path];
}

function at(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
}

describe("option defaults", () => {
  // Options that need another to be accepted get it in both runs.
  const base = [
    "--redis",
    "redis://127.0.0.1:1",
    "--subscribe-hook-url",
    "http://127.0.0.1:1/s",
    "--disconnect-hook-url",
    "http://127.0.0.1:1/d",
    "--jwt-key",
    "k".repeat(32),
    "--subscriptions",
  ];
  const defaults = config(base);
  for (const o of OPTIONS.filter((x) => x.default !== undefined && /^\d+$/.test(x.default))) {
    it(`--${o.name}: the default in --help and the docs (${o.default}) is the one parsed`, () => {
      const set = config([...base, `--${o.name}`, String(Number(o.default) + 1)]);
      const paths = changed(defaults, set);
      assert.equal(paths.length, 1, `--${o.name} sets one field (${paths.join(", ")})`);
      const value = at(defaults, paths[0] as string);
      // A Mercure option left unset stays undefined in the config: the hub's own default applies.
      if (value !== undefined) assert.equal(value, Number(o.default));
    });
  }
});

describe("options that set a broker option (spec field broker)", () => {
  const backed = OPTIONS.filter((o) => o.broker !== undefined);

  it("claim each of CLI_BROKER_KEYS exactly once, and nothing else", () => {
    assert.deepEqual(backed.map((o) => o.broker).sort(), [...CLI_BROKER_KEYS].sort());
  });

  const defaults = config([]);
  for (const o of backed) {
    const key = o.broker as (typeof CLI_BROKER_KEYS)[number];
    it(`--${o.name}: parsed unset as the broker's default ${key}, which help shows unless it explains`, () => {
      assert.deepEqual(defaults[key], DEFAULT_BROKER_OPTIONS[key]);
      const derived = defaultText(DEFAULT_BROKER_OPTIONS[key]);
      // Hand-written defaults are the ones that say more than the value (e.g. "none: … this machine only").
      if (o.default !== derived)
        assert.ok(o.default !== undefined && !/^[\w*.-]+$/.test(o.default), o.default);
    });
  }

  // A value unlike the default for each option, to see which field it lands in.
  const VALUES: Record<string, string[]> = {
    "trust-proxy": ["loopback"],
    "publish-token": ["t0k"],
    "presence-topic": ["who"],
    "publish-cors-origin": ["https://a.example"],
    "cors-origin": ["https://a.example"],
    "retry-ms": ["3000"],
    "max-stream-lifetime-ms": ["60000"],
    "max-connections": ["7"],
    "heartbeat-ms": ["0"],
    "shutdown-retry-spread-ms": ["0"],
    "subscribe-hook-url": ["http://127.0.0.1:1/s"],
    "subscribe-hook-failure": ["allow"],
    "disconnect-hook-url": ["http://127.0.0.1:1/d"],
    "metrics-token": ["m3t"],
    console: ["off"],
    "console-token": ["c0n", "--console", "on"],
  };
  const hookBase = [
    "--subscribe-hook-url",
    "http://127.0.0.1:1/s0",
    "--disconnect-hook-url",
    "http://127.0.0.1:1/d0",
  ];
  const base = config(hookBase);
  for (const o of backed) {
    it(`--${o.name} sets ${o.broker}`, () => {
      const value = VALUES[o.name] ?? [
        String((DEFAULT_BROKER_OPTIONS[o.broker as "historyLimit"] as number) + 1),
      ];
      const set = config([...hookBase, `--${o.name}`, ...value]);
      const expected = o.name === "console-token" ? ["consoleMode", "consoleToken"] : [o.broker];
      const fields = Object.keys(set).filter(
        (k) => !isDeepStrictEqual(base[k as keyof typeof base], set[k as keyof typeof set]),
      );
      assert.deepEqual(fields.sort(), expected);
    });
  }
});
