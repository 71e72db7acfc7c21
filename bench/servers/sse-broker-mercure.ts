/**
 * Benchmarked server: sse-broker as a Mercure hub. 1000 subscribers on the URI template
 * `https://example.com/bench/{id}`, each with a subscriber JWT (HS256, jose) allowed that template; events
 * are private updates to `https://example.com/bench/1`, so every delivery also passes the template match
 * and the private-update authorization. Published in-process like the plain server, same payload.
 * @module
 */
import http from "node:http";
import { SignJWT } from "jose";
import { createBroker } from "../../src/index.js";
import { runBenchServer } from "./control.js";

const SUBSCRIBER_KEY = "bench-subscriber-secret-at-least-256-bits!";
const PUBLISHER_KEY = "bench-publisher-secret-at-least-256-bits!!";
const TEMPLATE = "https://example.com/bench/{id}";
const TOPIC = "https://example.com/bench/1";

const broker = createBroker({
  logger: null,
  // The load client opens every subscriber from one address, as fast as it can.
  maxConnectionsPerIp: null,
  connectionRatePerIp: null,
  mercure: { subscriberJwtKey: SUBSCRIBER_KEY, publisherJwtKey: PUBLISHER_KEY },
});
const server = http.createServer(broker.handler);

const token = new SignJWT({ mercure: { subscribe: [TEMPLATE] } })
  .setProtectedHeader({ alg: "HS256" })
  .setIssuedAt()
  .setExpirationTime("1h")
  .sign(new TextEncoder().encode(SUBSCRIBER_KEY));

runBenchServer(
  server,
  {
    publish(ev) {
      broker.publish({ topic: TOPIC, data: JSON.stringify(ev), private: true }).catch((err: unknown) => {
        console.error("publish failed", err);
      });
    },
    stats: () => ({ sessions: broker.size, dropped: broker.stats.droppedSlow }),
  },
  token.then((jwt) => ({
    path: `/.well-known/mercure?topic=${encodeURIComponent(TEMPLATE)}`,
    headers: { Authorization: `Bearer ${jwt}` },
  })),
);
