/**
 * The system under soak: one redis-server (AOF in a temp dir, so a restart keeps the stream) and broker
 * nodes from the built CLI, each a child process stopped by its PID. Broker logs (pino JSON on stdout) are
 * read line by line: counted by level, and searched for secrets that must never be logged.
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort, waitForHttp, waitForRedis } from "../net.js";
import { type Proc, spawnPinned, stop, UNPINNED } from "../procs.js";

export interface LogStats {
  lines: number;
  /** pino levels: 40 warn, 50 error, 60 fatal. */
  byLevel: Record<string, number>;
  /** Distinct messages of warn and above, with counts (the first 40). */
  messages: Record<string, number>;
  /** Lines that contain one of the secrets. */
  secretLines: number;
  notJson: number;
}

/** True when dist/cli/main.js is missing or older than a file under src/. */
export function distIsStale(root: string): boolean {
  let built: number;
  try {
    built = statSync(join(root, "dist", "cli", "main.js")).mtimeMs;
  } catch {
    return true;
  }
  for (const f of readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })) {
    if (statSync(join(root, "src", f)).mtimeMs > built) return true;
  }
  return false;
}

export function build(root: string): void {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
}

/** A redis-server that can be stopped and started again on the same port and dir. */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  proc: Proc | undefined;
  restarts = 0;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), "sse-soak-redis-")));
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawnPinned("redis-server", UNPINNED, "redis-server", [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "yes",
      "--dir",
      this.dir,
      "--daemonize",
      "no",
    ]);
    await waitForRedis(this.port, 15_000);
  }

  /** SIGTERM (redis flushes its AOF), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.proc !== undefined) await stop(this.proc, 5000);
    this.proc = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface BrokerNode {
  readonly name: string;
  readonly port: number;
  readonly proc: Proc;
  readonly log: LogStats;
}

const MAX_MESSAGES = 40;

/** Environment of the brokers: ours, minus any broker settings of the calling shell. */
function brokerEnv(token: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SSE_BROKER_|MERCURE_)/.test(k) || ["REDIS_URL", "PORT", "HOST", "LOG_LEVEL"].includes(k)) continue;
    env[k] = v;
  }
  // The token goes in the environment, not argv: the command line is visible to every user (ps).
  env.SSE_BROKER_PUBLISH_TOKEN = token;
  return env;
}

export async function startBroker(opts: {
  name: string;
  root: string;
  tsx: boolean;
  redisUrl: string;
  token: string;
  secrets: readonly string[];
}): Promise<BrokerNode> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const entry = opts.tsx
      ? ["--import", "tsx", join(opts.root, "src", "cli", "main.ts")]
      : [join(opts.root, "dist", "cli", "main.js")];
    const args = [
      ...entry,
      "--redis",
      opts.redisUrl,
      "--no-demo",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--log-level",
      "warn",
    ];
    const proc = spawnPinned(opts.name, UNPINNED, process.execPath, args, {
      stdout: "pipe",
      env: brokerEnv(opts.token),
    });
    const log = watchLog(proc, opts.secrets);
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    try {
      await waitForHttp(port, "/healthz", 30_000, () => !exited);
      return { name: opts.name, port, proc, log };
    } catch (err) {
      await stop(proc, 5000);
      // The free port may have been taken before the broker bound it: try another.
      if (attempt === 3) throw new Error(`${opts.name} did not start: ${(err as Error).message}`);
    }
  }
}

function watchLog(proc: Proc, secrets: readonly string[]): LogStats {
  const log: LogStats = { lines: 0, byLevel: {}, messages: {}, secretLines: 0, notJson: 0 };
  const stdout = proc.child.stdout;
  if (stdout === null) return log;
  const rl = createInterface({ input: stdout });
  rl.on("line", (line) => {
    log.lines++;
    if (secrets.some((s) => line.includes(s))) log.secretLines++;
    let level = "?";
    let msg = line.slice(0, 120);
    try {
      const o = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      level = String(o.level ?? "?");
      msg = `${o.msg ?? ""}${o.err?.message === undefined ? "" : `: ${o.err.message}`}`;
    } catch {
      log.notJson++;
    }
    log.byLevel[level] = (log.byLevel[level] ?? 0) + 1;
    for (const sec of secrets) msg = msg.split(sec).join("<secret>");
    const key = `[${level}] ${msg}`;
    if (key in log.messages || Object.keys(log.messages).length < MAX_MESSAGES) {
      log.messages[key] = (log.messages[key] ?? 0) + 1;
    }
  });
  return log;
}
