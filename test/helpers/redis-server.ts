/**
 * A real `redis-server` for tests, on a free loopback port, in its own temp dir. Stopped by its PID; any
 * still running when the test process exits (a failed test, an uncaught error) is killed then.
 * Below it: brokers sharing that Redis, and subscriber sinks whose received events the tests read.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, afterEach, before } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { Broker, type SubscribeOptions } from "../../src/core/broker.js";
import {
  createRedisTransport,
  type RedisTransport,
  type RedisTransportOptions,
} from "../../src/transport/redis.js";
import { freePort, HOST } from "./net.js";

const REDIS_SERVER = "/usr/bin/redis-server";

export interface RedisServerOptions {
  /** AOF persistence (`--appendonly yes`), so data survives `restart()`. Defaults to `false`. */
  persistent?: boolean;
  /** Run as a one-node Redis Cluster holding every slot. Defaults to `false`. */
  cluster?: boolean;
  /** More `redis-server` arguments, one word each: `["--user", "alice", "on", ">secret", "~*", "+@all"]`. */
  args?: readonly string[];
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Data is kept for `start()` when persistent. */
  stop(): Promise<void>;
  /** Starts it again on the same port and dir. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops it and removes its dir. */
  dispose(): Promise<void>;
}

const running = new Set<ChildProcess>();
const dirs = new Set<string>();
function cleanUp(): void {
  for (const child of running) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
process.once("exit", cleanUp);
// The test runner stops a file that runs too long with a signal, which skips 'exit'.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}

/** Sends one inline command; returns the reply once `complete` says so (first line), or null on no answer. */
function ask(
  port: number,
  command: string,
  complete = (text: string) => text.indexOf("\r\n"),
): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = "";
    const done = (value: string | null): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1_000, () => done(null));
    socket.on("error", () => done(null));
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      const end = complete(reply);
      if (end !== -1) done(reply.slice(0, end));
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "sse-broker-redis-"));
  dirs.add(dir);
  let port = await freePort();
  let child: ChildProcess | undefined;
  let output = "";

  const start = async (): Promise<void> => {
    const args = ["--port", String(port), "--bind", HOST, "--save", "", "--dir", dir, "--daemonize", "no"];
    args.push("--appendonly", options.persistent === true ? "yes" : "no", ...(options.args ?? []));
    if (options.cluster === true)
      args.push(
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-announce-ip",
        HOST,
      );
    const proc = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    running.add(proc);
    proc.once("exit", () => running.delete(proc));
    // Keep the pipes drained (a full pipe would block redis) and the tail for error messages.
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString("utf8")).slice(-4_000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`redis-server exited at start:\n${output}`);
      }
      // Any answer but LOADING means it serves (NOAUTH too, when the default user is off).
      const reply = await ask(port, "PING");
      if (reply !== null && !reply.startsWith("-LOADING")) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server did not answer PING:\n${output}`);
      }
      await sleep(25);
    }
    if (options.cluster === true) await claimAllSlots(port);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, "exit");
    proc.kill("SIGTERM"); // redis flushes its AOF on SIGTERM
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };

  // The free port can be taken before redis binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt === 3 || !String(err).includes("exited at start")) throw err;
      port = await freePort();
    }
  }
  return {
    url: `redis://${HOST}:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

async function claimAllSlots(port: number): Promise<void> {
  const reply = await ask(port, "CLUSTER ADDSLOTSRANGE 0 16383");
  // After a restart the node already owns them (nodes.conf).
  if (reply !== "+OK" && !reply?.includes("already")) throw new Error(`CLUSTER ADDSLOTSRANGE: ${reply}`);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const info = await ask(port, "CLUSTER INFO", (text) => {
      const m = /cluster_state:\w+\r\n/.exec(text);
      return m === null ? -1 : m.index + m[0].length;
    });
    if (info?.includes("cluster_state:ok") === true) return;
    await sleep(50);
  }
  throw new Error("cluster did not reach state ok");
}

// ---- brokers on that server ------------------------------------------------------------------------

/** A fresh key prefix, so tests sharing a server never see each other's stream. */
export function uniquePrefix(): string {
  return `test:${randomUUID()}:`;
}

export interface Node {
  broker: Broker;
  transport: RedisTransport;
}

export function startNode(url: string, keyPrefix: string, extra: Partial<RedisTransportOptions> = {}): Node {
  const transport = createRedisTransport({ url, keyPrefix, logger: null, ...extra });
  const broker = new Broker({ heartbeatMs: null, logger: null }, transport);
  return { broker, transport };
}

export interface Subscriber {
  readonly sink: PassThrough;
  /** Ids of the events received so far, in order. */
  ids(): string[];
  /** Data of the events received so far, in order. */
  data(): string[];
}

/** Opens a subscription on a PassThrough sink and parses what the broker writes to it. */
export function subscribe(broker: Broker, opts: SubscribeOptions): Subscriber & { complete: boolean | null } {
  const pending = broker.subscribe(opts);
  const sink = new PassThrough();
  let text = "";
  sink.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  pending.open(sink);
  return { sink, complete: pending.resume?.complete ?? null, ...parsed(() => text) };
}

function parsed(text: () => string): Pick<Subscriber, "ids" | "data"> {
  const events = (): { id: string; data: string }[] =>
    text()
      .split("\n\n")
      .slice(0, -1)
      .map((block) => {
        let id = "";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("id:")) id = line.slice(3);
          else if (line.startsWith("data:")) data.push(line.slice(5));
        }
        return { id, data: data.join("\n") };
      })
      .filter((e) => e.id !== "");
  return { ids: () => events().map((e) => e.id), data: () => events().map((e) => e.data) };
}

export { freePort } from "./net.js";
/** One redis-server for a test file, an admin connection to it, and nodes closed after each test. */
export interface RedisFixture {
  readonly redis: RedisServer;
  readonly admin: Redis;
  /** A broker on the Redis backplane under `prefix`, closed after the test. */
  node(prefix: string, extra?: Partial<RedisTransportOptions>): Node;
  /** Closes `n` after the test too (a node on another Redis). */
  track(n: Node): Node;
  /** Closes the nodes started so far (also done after each test). */
  closeNodes(): Promise<void>;
}

export function useRedis(options: RedisServerOptions = {}): RedisFixture {
  let redis: RedisServer | undefined;
  let admin: Redis | undefined;
  const nodes: Node[] = [];
  const closeNodes = async (): Promise<void> => {
    await Promise.all(nodes.splice(0).map((n) => n.broker.close()));
  };
  before(async () => {
    redis = await startRedisServer(options);
    admin = new Redis(redis.url);
  });
  afterEach(closeNodes);
  after(async () => {
    admin?.disconnect();
    await redis?.dispose();
  });
  return {
    get redis() {
      return redis as RedisServer;
    },
    get admin() {
      return admin as Redis;
    },
    node(prefix, extra = {}) {
      const n = startNode((redis as RedisServer).url, prefix, extra);
      nodes.push(n);
      return n;
    },
    track(n) {
      nodes.push(n);
      return n;
    },
    closeNodes,
  };
}

export { recordingLogger, waitFor } from "./wait.js";
