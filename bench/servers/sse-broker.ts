/**
 * Benchmarked server: sse-broker as a library with its defaults (heartbeat, history, metrics), logging off.
 * Subscribers: GET /events?topic=bench. Events are published in-process. `--flush-interval-ms N` sets
 * the one option a scenario varies.
 * @module
 */
import http from "node:http";
import { parseArgs } from "node:util";
import { createBroker } from "../../src/index.js";
import { runBenchServer } from "./control.js";

const { values } = parseArgs({ options: { "flush-interval-ms": { type: "string", default: "0" } } });
const broker = createBroker({
  logger: null,
  flushIntervalMs: Number(values["flush-interval-ms"]),
  // The load client opens every subscriber from one address, as fast as it can.
  maxConnectionsPerIp: null,
  connectionRatePerIp: null,
});
const server = http.createServer(broker.handler);

runBenchServer(server, {
  publish(ev) {
    broker.publish({ topic: "bench", data: JSON.stringify(ev) }).catch((err: unknown) => {
      console.error("publish failed", err);
    });
  },
  stats: () => ({ sessions: broker.size, dropped: broker.stats.droppedSlow }),
});
