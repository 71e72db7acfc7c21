/**
 * Starts and stops the standalone server: broker + `node:http` server + demo producer. Used by the CLI,
 * by cluster workers and by tests.
 * @module
 */
import { createServer, type Server } from "node:http";
import type { Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { optionsError, SseBrokerError } from "../errors.js";
import { trustedProxies } from "../http/client-address.js";
import { clientErrorHandler } from "../http/client-error.js";
import { openFileSoftLimit, SERVER_FD_RESERVE } from "../http/fd-limit.js";
import type { RouteHandler } from "../http/handler.js";
import { createOpsHandler } from "../http/ops.js";
import { createSecureBrokerServer, type SecureServer } from "../http/secure-server.js";
import { createBroker, type SseBroker } from "../index.js";
import { refusalsOf } from "../metrics/refusals.js";
import type { Transport } from "../transport/transport.js";
import type { CliConfig } from "./args.js";
import { brokerOptionsOf } from "./broker-options.js";
import { type DemoProducer, startDemo } from "./demo.js";
import { loadTlsFiles } from "./tls-files.js";

/**
 * Server timeouts, chosen for long-lived streams. None of them can end an open stream: a stream's request
 * is complete once its headers are in, and the stream sets its socket's idle timeout to 0. The header
 * timeout also closes a connection that sends nothing at all.
 */
function httpTimeouts(config: CliConfig) {
  return {
    // Whole request (headers + body) must arrive within this: bounds slow publish uploads (Slowloris).
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    // Node checks the two above on this period (default 30 s): enforce them within a second or so.
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(1_000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 2)),
    ),
    // Longer than common load-balancer idle timeouts (60 s) so a balancer never reuses a connection we
    // just closed under it.
    keepAliveTimeout: 65_000,
  };
}

/** After the broker ended every stream, how long peers get to close their side before we cut them. */
const CLOSE_GRACE_MS = 2_500;

export interface StartOptions {
  config: CliConfig;
  logger: Logger;
  /** Run the demo producer (cluster: only one worker does). Defaults to `config.demo`. */
  demoProducer?: boolean;
  /** Defaults to in-memory. */
  transport?: Transport;
  /** Extra routes, tried after the Mercure hub (when configured) and before the built-in ones. */
  routes?: readonly RouteHandler[];
}

export interface RunningServer {
  /** `node:http`, or with `--tls-cert` the HTTP/2 secure server (HTTP/1.1 fallback). */
  readonly server: Server | Http2SecureServer;
  readonly broker: SseBroker;
  readonly port: number;
  /** e.g. `http://localhost:8080/` (`https://…` with TLS) */
  readonly url: string;
  /** Port of the `--metrics-listen` listener, or `null`. */
  readonly metricsPort: number | null;
  /** Stops accepting, ends every stream cleanly, closes connections. Idempotent. */
  close(): Promise<void>;
}

/** A listen failure worth one line to the user (port in use, no permission, unknown host). */
export class ListenError extends Error {
  override readonly name = "ListenError";
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, logger } = options;
  // Before anything starts: a bad certificate is a configuration error.
  const tlsFiles = config.tls === null ? null : loadTlsFiles(config.tls);
  let broker: SseBroker;
  try {
    broker = createBroker({
      // Every broker option the CLI has, under its own name (broker-options.ts); then the CLI-only ones.
      ...brokerOptionsOf(config),
      demoRoutes: config.demo,
      logger,
      metrics: config.metrics,
      ...(options.transport === undefined ? {} : { transport: options.transport }),
      ...(options.routes === undefined ? {} : { routes: options.routes }),
      ...(config.mercure === null ? {} : { mercure: config.mercure }),
    });
  } catch (err) {
    // Broker options were validated with the flags, so what fails here is the hub's keys: say so.
    if (err instanceof SseBrokerError && config.mercure !== null)
      throw optionsError(`Mercure hub: ${err.message}`);
    throw err;
  }
  const timeouts = httpTimeouts(config);
  let secure: SecureServer | null = null;
  let server: Server | Http2SecureServer;
  if (tlsFiles !== null) {
    secure = createSecureBrokerServer(broker.handler, {
      ...tlsFiles,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: timeouts.keepAliveTimeout,
      refused: refusalsOf(broker),
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      connectionRatePerIp: config.connectionRatePerIp,
      trusted: trustedProxies(config.trustProxy),
    });
    server = secure.server;
  } else {
    const plain = createServer(timeouts, broker.handler);
    // No inactivity timeout on sockets (the default, said explicitly: streams are idle by design).
    plain.timeout = 0;
    plain.on("clientError", clientErrorHandler(refusalsOf(broker)));
    server = plain;
  }
  // Connections past this are closed at accept: the process never runs out of file descriptors, and the
  // gap between it and maxConnections (streams) is what /healthz and /metrics answer with.
  const fdLimit = openFileSoftLimit();
  if (fdLimit !== null) server.maxConnections = Math.max(1, fdLimit - SERVER_FD_RESERVE);
  const metricsServer =
    config.metricsListen === null ? null : createServer(createOpsHandler(broker, broker.metrics));
  try {
    // Ready first: a backplane node delivers what it loads at start to history only, and a subscriber
    // must not connect before it knows which of its events are new.
    await broker.ready();
    await listen(server, config.port, config.host);
    if (metricsServer !== null && config.metricsListen !== null) {
      await listen(metricsServer, config.metricsListen.port, config.metricsListen.host);
    }
  } catch (err) {
    server.close();
    metricsServer?.close();
    await broker.close().catch(() => {});
    throw err;
  }
  const metricsAddress = metricsServer?.address() as AddressInfo | undefined;
  const port = (server.address() as AddressInfo).port;
  const url = `${secure === null ? "http" : "https"}://${displayHost(config.host)}:${port}/`;

  let demo: DemoProducer | null = null;
  if (options.demoProducer ?? config.demo) {
    demo = startDemo(broker, { intervalMs: config.demoIntervalMs, logger });
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      demo?.stop();
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // HTTP/2: GOAWAY first, so that no stream starts on a session while the broker ends the others;
      // each session then closes once its last stream has ended.
      secure?.closeIdle();
      await broker.close();
      if (secure === null) (server as Server).closeIdleConnections();
      else secure.closeIdle();
      const grace = setTimeout(
        () => (secure === null ? (server as Server).closeAllConnections() : secure.closeAll()),
        CLOSE_GRACE_MS,
      );
      grace.unref();
      await closed;
      clearTimeout(grace);
    })();
    return closing;
  };
  return { server, broker, port, url, metricsPort: metricsAddress?.port ?? null, close };
}

function listen(server: Server | Http2SecureServer, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err, port, host));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string | undefined): Error {
  const where = host === undefined ? `port ${port}` : `${host}:${port}`;
  switch (err.code) {
    case "EADDRINUSE":
      return new ListenError(`cannot listen on ${where}: address already in use (EADDRINUSE)`);
    case "EACCES":
      return new ListenError(`cannot listen on ${where}: permission denied (EACCES)`);
    case "EADDRNOTAVAIL":
      return new ListenError(
        `cannot listen on ${where}: address not available on this machine (EADDRNOTAVAIL)`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ListenError(`cannot listen on ${where}: unknown host (${err.code})`);
    default:
      return new ListenError(`cannot listen on ${where}: ${err.message}`);
  }
}

function displayHost(host: string | undefined): string {
  if (host === undefined || host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
