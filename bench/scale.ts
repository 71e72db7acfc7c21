import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { findCompiler } from "./lib/c-load.js";
import { LoadFleet } from "./lib/load.js";
import { freePort, waitForHttp, waitForRedis } from "./lib/net.js";
import { machineInfo, processTree, treeCpuSeconds, treeRssBytes } from "./lib/proc.js";
import { onPath, type Proc, runBounded, spawnPinned, stop, UNPINNED } from "./lib/procs.js";

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (v: number, d = 0) => Math.round(v * 10 ** d) / 10 ** d;
const MiB = 1024 * 1024;
/** Streams per load process: under its 20 000 descriptors. */
const PER_CLIENT = 17_000;

const { values: flags } = parseArgs({
  options: {
    connections: { type: "string", default: "100000" },
    workers: { type: "string", default: "6" },
    sources: { type: "string", default: "8" },
    "heartbeat-ms": { type: "string", default: "10000" },
    "max-minutes": { type: "string", default: "10" },
  },
});

function int(k: keyof typeof flags, min: number): number {
  const v = Number(flags[k]);
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`--${k} must be an integer >= ${min}`);
  return v;
}

const N = int("connections", 2);
const WORKERS = int("workers", 1);
const SOURCES = int("sources", 1);
const HEARTBEAT_MS = int("heartbeat-ms", 1000);

function missing(): string[] {
  const out: string[] = [];
  if (!onPath("redis-server")) out.push("redis-server (apt-get install -y redis-server)");
  if (findCompiler() === undefined) out.push("a C compiler (apt-get install -y gcc)");
  return out;
}

const treeRss = treeRssBytes;
const treeCpu = treeCpuSeconds;
const tree = processTree;
/** Kernel-wide memory in use (MemTotal − MemAvailable): includes both ends' socket buffers. */
function systemUsedBytes(): number {
  const m = readFileSync("/proc/meminfo", "latin1");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(m)?.[1] ?? 0);
  return (kb("MemTotal") - kb("MemAvailable")) * 1024;
}

async function main(): Promise<number> {
  const gone = missing();
  if (gone.length > 0) {
    console.error(`bench:scale needs: ${gone.join("; ")}`);
    return 2;
  }
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), "sse-scale-"));
  try {
    const redisPort = await freePort();
    const redis = spawnPinned("redis-server", UNPINNED, "redis-server", [
      ...["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ...["--dir", dir],
    ]);
    procs.push(redis);
    await waitForRedis(redisPort);
    const port = await freePort();
    const broker = spawnPinned("sse-broker", UNPINNED, process.execPath, [
      ...["--import", "tsx", join(here, "..", "src", "cli", "main.ts")],
      ...["--host", "127.0.0.1", "--port", String(port), "--no-demo", "--log-level", "warn"],
      ...["--workers", String(WORKERS), "--redis", `redis://127.0.0.1:${redisPort}`],
      ...["--heartbeat-ms", String(HEARTBEAT_MS)],
      // Many streams from few loopback addresses: the per-address limits would (rightly) refuse them.
      ...["--max-connections-per-ip", "none", "--connection-rate-per-ip", "none"],
    ]);
    procs.push(broker);
    let alive = true;
    void broker.exited.then(() => {
      alive = false;
    });
    await waitForHttp(port, "/healthz", 60_000, () => alive);
    // Every worker listening: /healthz answers from any one of them.
    await sleep(3000);
    const clients = Math.max(1, Math.ceil(N / PER_CLIENT));
    const fleet = await LoadFleet.start("c", clients, UNPINNED);
    procs.push(...fleet.procs);
    const sources = Array.from({ length: Math.max(SOURCES, clients) }, (_, i) => `127.3.0.${i + 1}`);
    const rss0 = treeRss(broker.pid);
    const sys0 = systemUsedBytes();
    const cpu0 = treeCpu(broker.pid);
    const steps: { held: number; rssMiB: number; kibPerConn: number; systemMiB: number; ms: number }[] = [];
    let have = 0;
    let failed = 0;
    let openMs = 0;
    for (const want of [Math.floor(N / 2), N]) {
      const t0 = performance.now();
      const c = await fleet.connect({
        port,
        path: "/events?topic=scale",
        count: want - have,
        sources,
        concurrency: 300,
        timeoutMs: 240_000,
      });
      openMs += performance.now() - t0;
      failed += c.failed;
      have = c.live;
      await sleep(3000);
      const rss = treeRss(broker.pid);
      const sys = systemUsedBytes();
      steps.push({
        held: have,
        rssMiB: round(rss / MiB, 1),
        kibPerConn: round((rss - rss0) / Math.max(1, have) / 1024, 2),
        systemMiB: round((sys - sys0) / MiB),
        ms: round(performance.now() - t0),
      });
      console.error(
        `held ${have} (${c.failed} failed${c.failed > 0 ? `: ${JSON.stringify(c.errorKinds)}` : ""})`,
      );
      if (have < want) break;
    }
    const openCpu = treeCpu(broker.pid) - cpu0;
    const [half, full] = steps;
    const marginal =
      half !== undefined && full !== undefined && full.held > half.held
        ? round(((full.rssMiB - half.rssMiB) * 1024) / (full.held - half.held), 2)
        : null;
    // Heartbeats: every live stream must get a comment line within one interval (plus slack).
    await fleet.start();
    await sleep(HEARTBEAT_MS * 2 + 2000);
    const w = await fleet.stop();
    const result = {
      date: new Date().toISOString(),
      machine: machineInfo(),
      command: `npm run bench:scale -- ${process.argv.slice(2).join(" ")}`.trim(),
      connections: N,
      workers: WORKERS,
      loadProcesses: clients,
      sourceAddresses: sources.length,
      heartbeatMs: HEARTBEAT_MS,
      rssBeforeMiB: round(rss0 / MiB, 1),
      steps,
      kibPerConnSecondHalf: marginal,
      failed,
      openSeconds: round(openMs / 1000, 1),
      serverCpuMicrosPerConn: have > 0 ? round((openCpu / have) * 1e6) : null,
      heartbeat: { waitedMs: HEARTBEAT_MS * 2 + 2000, reached: w.heartbeatConns, of: w.live ?? w.open },
      serverProcesses: tree(broker.pid).length,
    };
    console.log(JSON.stringify(result, null, 2));
    const ok = have >= N && w.heartbeatConns === (w.live ?? w.open) && failed === 0;
    console.log(
      `\n${ok ? "PASS" : "FAIL"}: ${have} of ${N} streams held by ${WORKERS} workers; heartbeat reached ${w.heartbeatConns} of ${w.live ?? w.open}; RSS ${full?.kibPerConn ?? half?.kibPerConn} KiB per stream (2nd half ${marginal}), ${result.serverProcesses} broker processes (primary + workers)`,
    );
    return ok ? 0 : 1;
  } finally {
    // Load first (its streams end), then the broker (graceful, its workers with it), then Redis.
    for (const p of procs.filter((p) => p.name.startsWith("sse-load"))) await stop(p);
    for (const p of procs.filter((p) => p.name === "sse-broker")) await stop(p, 15_000);
    for (const p of procs.filter((p) => p.name === "redis-server")) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

runBounded(main, int("max-minutes", 1));
