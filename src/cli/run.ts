/**
 * One broker process: logger, transport, server, signals. The single-process CLI and every cluster worker
 * run this.
 * @module
 */
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { RedisSubscriptionRegistry } from "../mercure/redis-registry.js";
import type { RedisPresence } from "../presence/redis.js";
import type { RedisSubscriberRouter } from "../subscribers/redis.js";
import type { Transport } from "../transport/transport.js";
import type { CliConfig } from "./args.js";
import { createLogger } from "./logger.js";
import { type RunningServer, startServer } from "./server.js";
import { exitOnSignals } from "./signals.js";

export interface RunOptions {
  /** Cluster workers other than the first leave the demo producer to it. Defaults to `config.demo`. */
  demoProducer?: boolean;
}

/** Starts serving and returns once listening; exits the process on SIGINT/SIGTERM. */
export async function runServer(config: CliConfig, options: RunOptions = {}): Promise<RunningServer> {
  const logger = createLogger({ level: config.logLevel });
  const transport = await createTransport(config, logger);
  const registry = await createRegistry(config, logger);
  let running: RunningServer;
  try {
    running = await startServer({
      config: registry === undefined ? config : { ...config, mercure: { ...config.mercure, registry } },
      logger,
      demoProducer: options.demoProducer ?? config.demo,
      ...(transport === undefined ? {} : { transport }),
    });
  } catch (err) {
    await registry?.close();
    throw err;
  }
  const presence = await createPresence(config, logger);
  presence?.attach(running.broker);
  const router = await createSubscriberRouter(config, logger);
  router?.attach(running.broker);
  // The broker's close ends every stream, then the registry removes this node's entries from Redis.
  const stop = exitOnSignals(async () => {
    await running.close();
    await registry?.close();
    await presence?.close();
    await router?.close();
  }, logger);
  // A cluster primary asks its workers to stop by message: Ctrl-C already signalled them all (same
  // process group), and a forwarded signal would count as the second one.
  if (process.send !== undefined) {
    process.on("message", (m: unknown) => {
      if ((m as { type?: unknown } | null)?.type === SHUTDOWN_MESSAGE) stop("primary");
    });
  }
  logger.info(
    {
      url: running.url,
      port: running.port,
      address: (running.server.address() as AddressInfo).address,
      demo: config.demo,
      demoProducer: options.demoProducer ?? config.demo,
      publish: config.publishToken === null ? "local requests only" : "bearer token",
      ...(running.metricsPort === null ? {} : { metricsPort: running.metricsPort }),
      console:
        config.consoleMode === "off"
          ? "off"
          : `${running.url}ui/ (${config.consoleMode === "on" ? "local requests or the console token" : "local requests only"})`,
      transport: transport === undefined ? "memory" : "redis",
      mercure: config.mercure !== null,
      ...(registry === undefined ? {} : { subscriptionsNode: registry.nodeId }),
    },
    `Listening on ${running.url}`,
  );
  return running;
}

export const SHUTDOWN_MESSAGE = "sse-broker:shutdown";

/**
 * Several processes (cluster workers, or brokers on several machines) see each other's events only
 * through a shared backplane. Loaded on demand: single-process runs never load ioredis.
 */
async function createTransport(config: CliConfig, logger: Logger): Promise<Transport | undefined> {
  if (config.redisUrl === null) return undefined;
  const { createRedisTransport } = await import("../transport/redis.js");
  return createRedisTransport({ url: config.redisUrl, keyPrefix: config.redisPrefix, logger });
}

/**
 * With Redis and Mercure subscriptions, the subscriptions API lists every node's subscriptions: each node
 * keeps its own in Redis under the transport's prefix. Loaded on demand, like the transport.
 */
async function createRegistry(
  config: CliConfig,
  logger: Logger,
): Promise<RedisSubscriptionRegistry | undefined> {
  if (config.redisUrl === null || config.mercure?.subscriptions !== true) return undefined;
  const { createRedisSubscriptionRegistry } = await import("../mercure/redis-registry.js");
  return createRedisSubscriptionRegistry({
    url: config.redisUrl,
    keyPrefix: config.redisPrefix,
    logger,
    ...(config.subscriptionsTtlMs === undefined ? {} : { ttlMs: config.subscriptionsTtlMs }),
  });
}

/** With Redis, `POST /subscribers/{id}/selectors` reaches the node holding the stream, whichever it is. */
async function createSubscriberRouter(
  config: CliConfig,
  logger: Logger,
): Promise<RedisSubscriberRouter | undefined> {
  if (config.redisUrl === null) return undefined;
  const { createRedisSubscriberRouter } = await import("../subscribers/redis.js");
  return createRedisSubscriberRouter({ url: config.redisUrl, keyPrefix: config.redisPrefix, logger });
}

/** With Redis, `GET /presence` sums every node's counts: each node exports its own under the prefix. */
async function createPresence(config: CliConfig, logger: Logger): Promise<RedisPresence | undefined> {
  if (config.redisUrl === null) return undefined;
  const { createRedisPresence } = await import("../presence/redis.js");
  return createRedisPresence({
    url: config.redisUrl,
    keyPrefix: config.redisPrefix,
    logger,
    ...(config.presenceTtlMs === undefined ? {} : { ttlMs: config.presenceTtlMs }),
  });
}
