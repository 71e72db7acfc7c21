import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, httpGetText, waitForHttp, waitForPort, waitForRedis } from "./net.js";
import { onPath, type Proc, spawnNode, spawnPinned, stop, UNPINNED } from "./procs.js";
import type { BodyKind } from "./publisher.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const NGINX = "/usr/sbin/nginx";
const NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so";

export interface ServerStats {
  /** Open streams as the server counts them; null when it cannot tell. */
  sessions: number | null;
  /** Subscribers it disconnected for not reading (its buffer cap); null when it has no such cap. */
  droppedSlow: number | null;
}

export interface Target {
  name: string;
  port: number;
  /** What subscribers GET. */
  path: string;
  /** Where the publisher POSTs, and in which shape. */
  publishUrl: string;
  body: BodyKind;
  /** Processes whose CPU and RSS are "the server". */
  procs: Proc[];
  /** Interval of its heartbeat comments, null when it sends none by default. */
  heartbeatMs: number | null;
  stats(): Promise<ServerStats>;
  /** A full GC before an RSS reading (Node servers), a no-op for the others. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerSpec {
  name: string;
  /** One line for the report: what exactly runs. */
  describe: string;
  /** Why it cannot run here (missing program), or undefined. */
  missing(): string | undefined;
  start(core: number): Promise<Target>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The value of an unlabelled Prometheus sample, or null. */
export function metricValue(text: string, name: string): number | null {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m === null ? null : Number(m[1]);
}

/**
 * The sse-broker CLI (`src/cli/main.ts` run by bench/servers/sse-broker-cli.ts) on 127.0.0.1 with its
 * defaults plus `extra`. `--no-demo`: the demo clock is not part of a deployment. Logs go to /dev/null.
 */
function sseBrokerCli(name: string, extra: string[], describe: string, main?: string): ServerSpec {
  return {
    name,
    describe,
    missing: () => (main !== undefined && !existsSync(main) ? `${main} not found` : undefined),
    async start(core) {
      const port = await freePort();
      const p = spawnNode(
        name,
        core,
        ["--expose-gc", "--import", "tsx"],
        join(benchDir, "servers", "sse-broker-cli.ts"),
        ["--host", "127.0.0.1", "--port", String(port), "--no-demo", ...extra],
        {
          stdout: "ignore",
          ...(main === undefined ? {} : { env: { ...process.env, SSE_BENCH_CLI_MAIN: main } }),
        },
      );
      let alive = true;
      void p.exited.then(() => {
        alive = false;
      });
      await waitForHttp(port, "/healthz", 30_000, () => alive);
      return {
        name,
        port,
        path: "/events?topic=bench",
        publishUrl: `http://127.0.0.1:${port}/publish`,
        body: "sse-broker",
        procs: [p],
        heartbeatMs: 15_000,
        async stats() {
          const { body } = await httpGetText(port, "/metrics");
          return {
            sessions: metricValue(body, "sse_broker_open_connections"),
            droppedSlow: metricValue(body, "sse_broker_clients_dropped_slow_total"),
          };
        },
        async gc() {
          await p.request({ cmd: "gc" }, "gc-done");
        },
        stop: () => stop(p, 5000),
      };
    },
  };
}

/**
 * The CLI on a Redis Streams backplane: a redis-server of its own (free port, no persistence, temp dir) and
 * `--redis … --workers N`. Not pinned (N processes need the machine's cores; Redis shares them): the
 * figures compare 1 and 2 processes on this box, not CPU per delivery.
 */
function sseBrokerRedis(workers: number): ServerSpec {
  const name = `sse-broker-redis-${workers}`;
  return {
    name,
    describe: `CLI \`--redis --workers ${workers}\` + its own redis-server, unpinned`,
    missing: () =>
      onPath("redis-server") ? undefined : "redis-server not installed (apt-get install -y redis-server)",
    async start() {
      const dir = mkdtempSync(join(tmpdir(), "sse-bench-redis-"));
      const redisPort = await freePort();
      const redis = spawnPinned("redis-server", UNPINNED, "redis-server", [
        ...["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        ...["--dir", dir],
      ]);
      const inner = sseBrokerCli(
        name,
        ["--redis", `redis://127.0.0.1:${redisPort}`, "--workers", String(workers)],
        "",
      );
      let t: Target;
      try {
        await waitForRedis(redisPort);
        t = await inner.start(UNPINNED);
        // /healthz answered by one worker: give the others time to listen too.
        await sleep(2000);
      } catch (err) {
        await stop(redis);
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      return {
        ...t,
        procs: [...t.procs, redis],
        async stop() {
          await t.stop();
          await stop(redis);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** A Node server of bench/servers/ on the IPC protocol of control.ts, with a `POST /publish` route. */
function nodeBenchServer(
  name: string,
  script: string,
  describe: string,
  heartbeatMs: number | null,
): ServerSpec {
  return {
    name,
    describe,
    missing: () =>
      name === "better-sse" && !existsSync(join(benchDir, "..", "node_modules", "better-sse"))
        ? "better-sse not installed (npm ci)"
        : undefined,
    async start(core) {
      const p = spawnNode(name, core, ["--expose-gc", "--import", "tsx"], join(benchDir, "servers", script));
      const { port } = await p.next<{ port: number }>("ready", 30_000);
      return {
        name,
        port,
        path: "/events?topic=bench",
        publishUrl: `http://127.0.0.1:${port}/publish`,
        body: "raw",
        procs: [p],
        heartbeatMs,
        async stats() {
          const s = await p.request<{ sessions: number }>({ cmd: "stats" }, "stats");
          return { sessions: s.sessions, droppedSlow: null };
        },
        async gc() {
          await p.request({ cmd: "gc" }, "gc-done");
        },
        stop: () => stop(p),
      };
    },
  };
}

/** nginx.conf for nchan: one process, its own prefix, enough connections for the idle scenario. */
export function nchanConfig(dir: string, port: number): string {
  return `load_module ${NCHAN_MODULE};
worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 20000;
# More slots than file descriptors: with 20000, nginx ran out of connection slots at 18 750 subscribers.
events { worker_connections 65536; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    # newest: a new subscriber gets no backlog, as sse-broker without Last-Event-ID
    location = /events { nchan_subscriber eventsource; nchan_channel_id bench; nchan_subscriber_first_message newest; }
    location = /pub { nchan_publisher; nchan_channel_id bench; nchan_message_buffer_length 1000; }
    location = /nchan_status { nchan_stub_status; }
  }
}
`;
}

const nchan: ServerSpec = {
  name: "nchan",
  describe: "nginx 1 process (master_process off) + nchan, eventsource subscriber, defaults otherwise",
  missing: () =>
    existsSync(NGINX) && existsSync(NCHAN_MODULE)
      ? undefined
      : "nchan not installed (Debian: apt-get install -y nginx-light libnginx-mod-nchan)",
  async start(core) {
    const dir = mkdtempSync(join(tmpdir(), "sse-bench-nchan-"));
    const port = await freePort();
    writeFileSync(join(dir, "nginx.conf"), nchanConfig(dir, port));
    const nginx = spawnPinned("nchan", core, NGINX, ["-p", dir, "-c", join(dir, "nginx.conf")]);
    if (!(await waitForPort(port, 10_000, () => nginx.child.exitCode === null))) {
      await stop(nginx);
      rmSync(dir, { recursive: true, force: true });
      throw new Error("nginx (nchan) did not start");
    }
    return {
      name: "nchan",
      port,
      path: "/events",
      publishUrl: `http://127.0.0.1:${port}/pub`,
      body: "raw",
      procs: [nginx],
      heartbeatMs: null,
      async stats() {
        const { body } = await httpGetText(port, "/nchan_status");
        const m = /^subscribers: (\d+)$/m.exec(body);
        return { sessions: m === null ? null : Number(m[1]), droppedSlow: null };
      },
      gc: async () => {},
      async stop() {
        await stop(nginx);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const SERVER_SPECS: Record<string, ServerSpec> = {
  "sse-broker": sseBrokerCli("sse-broker", [], "CLI defaults (`--no-demo`; logs at info to /dev/null)"),
  "sse-broker-flush5": sseBrokerCli(
    "sse-broker-flush5",
    ["--flush-interval-ms", "5"],
    "CLI `--flush-interval-ms 5`",
  ),
  "sse-broker-flush10": sseBrokerCli(
    "sse-broker-flush10",
    ["--flush-interval-ms", "10"],
    "CLI `--flush-interval-ms 10`",
  ),
  "sse-broker-immediate": sseBrokerCli(
    "sse-broker-immediate",
    ["--max-flush-delay-ms", "0"],
    "CLI `--max-flush-delay-ms 0` (no linger: every flush at the end of its event-loop iteration)",
  ),
  "sse-broker-bigcap": sseBrokerCli(
    "sse-broker-bigcap",
    ["--max-buffered-bytes", "67108864"],
    "CLI `--max-buffered-bytes 67108864` (a slow subscriber is not dropped within a run)",
  ),
  "sse-broker-warn": sseBrokerCli("sse-broker-warn", ["--log-level", "warn"], "CLI `--log-level warn`"),
  "sse-broker-redis-1": sseBrokerRedis(1),
  "sse-broker-redis-2": sseBrokerRedis(2),
  nchan,
  "better-sse": nodeBenchServer(
    "better-sse",
    "better-sse.ts",
    "better-sse 0.16.1 defaults (`createSession` + `createChannel`, `broadcast` of the parsed object)",
    10_000,
  ),
  "node-floor": nodeBenchServer(
    "node-floor",
    "node-floor.ts",
    "node:http, the same bytes written to every socket, one write per event, TCP_NODELAY",
    null,
  ),
};

/** A spec by name; `sse-broker@DIR` is the CLI of another checkout (e.g. `git worktree add DIR <commit>`). */
export function serverSpec(name: string): ServerSpec | undefined {
  const other = /^sse-broker@(\/.+)$/.exec(name)?.[1];
  if (other !== undefined) {
    return sseBrokerCli(name, [], `CLI defaults of ${other}`, join(other, "src", "cli", "main.ts"));
  }
  return SERVER_SPECS[name];
}
