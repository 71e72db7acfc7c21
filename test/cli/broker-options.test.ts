/**
 * The CLI hands the broker every option it configures under the broker's own name (src/cli/broker-options.ts),
 * with the values the flags gave, and nothing the broker does not know.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCli } from "../../src/cli/args.js";
import { brokerOptionsOf } from "../../src/cli/broker-options.js";
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
