/**
 * The comparison's bookkeeping (bench/lib/compare-report.ts, load.ts, targets.ts): the summary table's
 * cells and ratios against nchan, failures shown as such, saturated load windows named, connections and
 * source addresses split as the per-address limits need, Prometheus samples read. Pure functions on
 * made-up results; nothing is run or timed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compact, ratio, saturatedWindows, summaryTable } from "../../bench/lib/compare-report.js";
import type { CompareResults, FanoutWindow, LoadCost } from "../../bench/lib/compare-results.js";
import { SourcePool, splitCount, splitList } from "../../bench/lib/load.js";
import { metricValue, nchanConfig } from "../../bench/lib/targets.js";

const load = (over: Partial<LoadCost> = {}): LoadCost => ({
  clientCpuPct: 50,
  publisherCpuPct: 5,
  loadCoreBusyPct: 60,
  otherOnLoadCorePct: 5,
  loadCoreSoftirqPct: 3,
  clientRunQueueWaitPct: 0.5,
  framesPerRead: 1,
  clientTurnP99ms: 0.5,
  clientTurnMaxMs: 1,
  saturated: false,
  ...over,
});

function window(dpc: number, p99: number, over: Partial<FanoutWindow> = {}): FanoutWindow {
  return {
    seconds: 10,
    subscribers: 1000,
    rateAsked: 100,
    payloadBytes: 160,
    eventsPerSecond: 100,
    publishFailed: 0,
    publishMissed: 0,
    publishP50ms: 1,
    publishP99ms: 2,
    deliveries: 1_000_000,
    deliveriesPerSecond: 100_000,
    completeness: 1,
    lost: 0,
    serverCpuSeconds: 5,
    serverCpuPct: 50,
    deliveriesPerCpuSecond: dpc,
    serverCoreBusyPct: 55,
    serverCoreSoftirqPct: 10,
    latency: { p50: p99 / 2, p90: p99 * 0.8, p99, p999: p99 * 1.2, max: p99 * 2, count: 1_000_000 },
    rssStartMiB: 100,
    rssMaxMiB: 110,
    rssEndMiB: 105,
    clientErrors: 0,
    liveAtEnd: 1000,
    load: load(),
    ...over,
  };
}

function results(): CompareResults {
  return {
    date: "2026-12-01T00:00:00.000Z",
    tree: "abc1234",
    command: "npm run bench",
    machine: { nproc: 2 },
    loadClient: "C",
    config: { idleHeld: [10000, 19000], stormConnections: 5000, stalled: { fast: 500, stalled: 10 } },
    servers: [
      { name: "sse-broker", describe: "CLI defaults" },
      { name: "nchan", describe: "nginx" },
      { name: "node-floor", describe: "floor" },
    ],
    skipped: [],
    fanout: {
      "fanout-100": [
        { server: "sse-broker", result: window(200_000, 20) },
        { server: "nchan", result: window(100_000, 40) },
        { server: "node-floor", error: "only 10/1000 subscribers connected" },
      ],
    },
    storm: [
      {
        server: "sse-broker",
        result: {
          connections: 5000,
          openCpuMicrosPerConn: 90,
          stormCpuMicrosPerConn: 88,
          stormSeconds: 1,
          failed: 0,
          load: load(),
        },
      },
      {
        server: "nchan",
        result: {
          connections: 5000,
          openCpuMicrosPerConn: 40,
          stormCpuMicrosPerConn: 44,
          stormSeconds: 1,
          failed: 0,
          load: load({ saturated: true, loadCoreBusyPct: 95, otherOnLoadCorePct: 80 }),
        },
      },
    ],
  };
}

describe("comparison report", () => {
  it("puts each server's figure and its ratio to nchan in the summary row", () => {
    const md = summaryTable(results());
    const row = md.split("\n").find((l) => l.includes("1000 subs × 100 events/s")) ?? "";
    const cells = row.split(" | ");
    assert.match(cells[1] ?? "", /^200\.0 k \(p99 20\), \*\*2\.00×\*\*$/);
    assert.equal(cells[2], "100.0 k (p99 40)", "nchan itself carries no ratio");
    assert.match(cells[3] ?? "", /^failed: only 10\/1000 subscribers connected/);
    const storm = md.split("\n").find((l) => l.includes("reconnect storm")) ?? "";
    assert.match(storm, /88 \(90\), \*\*2\.00×\*\*/);
    assert.ok(!md.includes("idle connections"), "scenarios not run have no row");
  });

  it("names the windows whose load core was saturated, with who used it", () => {
    const sat = saturatedWindows(results());
    assert.deepEqual(sat, ["storm / nchan (core 95%: client 50%, publisher 5%, other 80%)"]);
  });

  it("formats figures compactly and leaves a ratio out when a side is missing", () => {
    assert.equal(compact(1_234_567), "1.23 M");
    assert.equal(compact(98_765), "98.8 k");
    assert.equal(compact(1234), "1234");
    assert.equal(compact(4.567), "4.57");
    assert.equal(ratio(3, 2), "1.50×");
    assert.equal(ratio(3, null), "");
    assert.equal(ratio(3, 0), "");
  });
});

describe("load bookkeeping", () => {
  it("splits connections and addresses between the load processes", () => {
    assert.deepEqual(splitCount(19000, 2), [9500, 9500]);
    assert.deepEqual(splitCount(10, 3), [3, 3, 4]);
    assert.deepEqual(splitList(["a", "b", "c", "d", "e"], 2), [
      ["a", "b"],
      ["c", "d", "e"],
    ]);
    assert.deepEqual(splitList(["a"], 2), [["a"], ["a"]]);
  });

  it("hands out fresh loopback addresses, at most 50 connections each by default", () => {
    const pool = new SourcePool();
    const first = pool.take(120);
    assert.deepEqual(first, ["127.1.0.1", "127.1.0.2", "127.1.0.3"]);
    const next = pool.take(254 * 50);
    assert.equal(next.length, 254);
    assert.equal(next[0], "127.1.0.4");
    assert.equal(next.at(-1), "127.1.1.3");
    assert.ok(!next.some((a) => a.endsWith(".0") || a.endsWith(".255")));
  });

  it("reads unlabelled Prometheus samples and builds nchan's config for a port", () => {
    const text = "# HELP x\nsse_broker_open_connections 19000\nsse_broker_clients_dropped_slow_total 10\n";
    assert.equal(metricValue(text, "sse_broker_open_connections"), 19000);
    assert.equal(metricValue(text, "sse_broker_clients_dropped_slow_total"), 10);
    assert.equal(metricValue(text, "missing"), null);
    const conf = nchanConfig("/tmp/x", 4321);
    assert.match(conf, /listen 127\.0\.0\.1:4321;/);
    assert.match(conf, /nchan_subscriber_first_message newest/);
  });
});
