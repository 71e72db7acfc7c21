/**
 * Benchmarked server: one sse-broker node on the Redis Streams backplane
 * (`node sse-broker-redis.ts <redis-url> <key-prefix>`). The orchestrator starts two and tells one to
 * publish; both deliver every event to their own subscribers through Redis.
 * @module
 */
import http from "node:http";
import { createBroker } from "../../src/index.js";
import { createRedisTransport } from "../../src/transport/redis.js";
import { runBenchServer } from "./control.js";

const [url, keyPrefix] = process.argv.slice(2);
if (url === undefined || keyPrefix === undefined)
  throw new Error("usage: sse-broker-redis.ts <url> <prefix>");

const broker = createBroker({
  logger: null,
  transport: createRedisTransport({ url, keyPrefix }),
  // The load client opens every subscriber from one address, as fast as it can.
  maxConnectionsPerIp: null,
  connectionRatePerIp: null,
});
const server = http.createServer(broker.handler);

runBenchServer(
  server,
  {
    publish(ev) {
      broker.publish({ topic: "bench", data: JSON.stringify(ev) }).catch((err: unknown) => {
        console.error("publish failed", err);
      });
    },
    stats: () => ({ sessions: broker.size, dropped: broker.stats.droppedSlow }),
  },
  broker.ready().then(() => ({})),
);
