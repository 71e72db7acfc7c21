/**
 * `--workers N`: a node:cluster primary forks N workers that share the listening port; each runs the
 * normal server against the shared Redis backplane (required, checked by args.ts). Worker 0 alone runs
 * the demo producer, so the demo publishes once per interval, not N times.
 * @module
 */
import cluster, { type Worker } from "node:cluster";
import { constants } from "node:os";
import type { CliConfig } from "./args.js";
import { createLogger } from "./logger.js";
import { runServer, SHUTDOWN_MESSAGE } from "./run.js";

const INDEX_ENV = "SSE_BROKER_WORKER_INDEX";
/** A worker's startup failure, reported once by the primary rather than N times by the workers. */
export const FATAL_MESSAGE = "sse-broker:fatal";
/** The primary's own safety net: workers force-exit after 4 s, so this only catches a wedged worker. */
const PRIMARY_FORCE_EXIT_MS = 6_000;
/** A worker that crashes sooner than this after its previous start is not restarted (crash loop). */
const MIN_UPTIME_MS = 5_000;

/** In a worker: hands a startup failure to the primary, then exits. */
export function reportFatalToPrimary(message: string, code: number): void {
  process.send?.({ type: FATAL_MESSAGE, message }, () => process.exit(code));
}

export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[INDEX_ENV] !== undefined;
}

/** In a worker: the normal server, with the demo producer on worker 0 only. */
export async function runWorker(config: CliConfig): Promise<void> {
  const index = Number(process.env[INDEX_ENV]);
  await runServer(config, { demoProducer: config.demo && index === 0 });
}

/**
 * In the primary: fork, restart crashed workers, and on SIGINT/SIGTERM ask every worker to stop, then
 * exit 0 once all have. A worker failing before it listens (port in use…) stops the whole cluster, exit 1,
 * its one-line reason printed once here.
 */
export function runPrimary(config: CliConfig): void {
  const log = createLogger({ level: config.logLevel });
  const index = new Map<Worker, number>();
  const listening = new Set<Worker>();
  const startedAt = new Map<number, number>();
  let stopping = false;
  let exitCode = 0;

  const fork = (i: number): void => {
    const worker = cluster.fork({ [INDEX_ENV]: String(i) });
    index.set(worker, i);
    startedAt.set(i, Date.now());
  };

  const stopAll = (reason: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log.info({ reason, workers: index.size }, "Stopping workers");
    for (const w of index.keys()) if (w.isConnected()) w.send({ type: SHUTDOWN_MESSAGE });
    const force = setTimeout(() => {
      log.error("workers did not stop in time: killing them");
      for (const w of index.keys()) w.process.kill("SIGKILL");
      process.exit(1);
    }, PRIMARY_FORCE_EXIT_MS);
    force.unref();
    if (index.size === 0) process.exit(exitCode);
  };

  let reported = false;
  cluster.on("message", (_worker, m: { type?: unknown; message?: unknown } | null) => {
    if (m?.type !== FATAL_MESSAGE || reported) return;
    reported = true;
    process.stderr.write(`sse-broker: ${String(m.message)}\n`);
  });
  cluster.on("listening", (worker) => listening.add(worker));
  cluster.on("exit", (worker, code, signal) => {
    const i = index.get(worker) ?? -1;
    const wasListening = listening.delete(worker);
    index.delete(worker);
    if (stopping) {
      if (index.size === 0) process.exit(exitCode);
      return;
    }
    // Exit 0 is a deliberate stop (Ctrl-C reaches every worker before the primary has acted on it).
    if (code === 0) {
      stopAll("worker stopped", 0);
      return;
    }
    log.error({ worker: i, pid: worker.process.pid, code, signal }, "worker exited");
    const upMs = Date.now() - (startedAt.get(i) ?? 0);
    if (!wasListening || upMs < MIN_UPTIME_MS) stopAll("worker failed", 1);
    else fork(i);
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      stopAll(signal, 0);
      return;
    }
    log.warn({ signal }, "second signal: killing workers");
    for (const w of index.keys()) w.process.kill("SIGKILL");
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  log.info({ workers: config.workers }, `Starting ${config.workers} workers`);
  for (let i = 0; i < config.workers; i++) fork(i);
}
