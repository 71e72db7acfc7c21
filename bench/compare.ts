/**
 * The whole comparison of issue 9 in one command: sse-broker (CLI defaults, and with an explicit
 * `--flush-interval-ms`), nchan, better-sse and the plain Node floor, across the scenarios of the issue's
 * table, in one run on one machine. Prints one Markdown table (ratios against nchan) plus details, writes
 * JSON, renders PNG plots.
 *
 *   npm run bench                              # everything (about 25 minutes)
 *   npm run bench -- --plots docs/img          # … and the plots docs/benchmarks.md shows
 *   npm run bench:quick                        # sse-broker vs the floor, under a minute, PASS/FAIL
 *   npm run bench -- --servers sse-broker,nchan --scenarios fanout-100,storm
 *
 * Servers on core 0 (taskset), the C load generator (bench/load/sse-load.c) and the HTTP publisher on
 * core 1, all on 127.0.0.1, bounded in time; every child is stopped by PID at the end, on error and on
 * Ctrl-C. See docs/benchmarks.md ("Issue 9").
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { findCompiler } from "./lib/c-load.js";
import { report } from "./lib/compare-report.js";
import type { CompareResults, FanoutWindow, ScenarioName, ScenarioOutcome } from "./lib/compare-results.js";
import { fanout, idle, type RunContext, stalled, storm } from "./lib/compare-scenarios.js";
import type { LoadKind } from "./lib/load.js";
import { renderPlots } from "./lib/plots.js";
import { machineInfo } from "./lib/proc.js";
import { prepareOrchestrator, runBounded } from "./lib/procs.js";
import type { PublisherKind } from "./lib/publishers.js";
import { type ServerSpec, serverSpec } from "./lib/targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_CORE = 0;
const LOAD_CORE = 1;
const ALL_SERVERS =
  "sse-broker,sse-broker-immediate,sse-broker-flush5,sse-broker-flush10,nchan,better-sse,node-floor";
const ALL_SCENARIOS: ScenarioName[] = [
  "fanout-100",
  "fanout-1000",
  "fanout-5000",
  "low-rate",
  "storm",
  "idle",
  "stalled",
  "redis",
];
/** The Redis scenario's own servers (1 and 2 processes), whatever `--servers` says. */
const REDIS_SERVERS = ["sse-broker-redis-1", "sse-broker-redis-2"];

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    servers: { type: "string" },
    scenarios: { type: "string" },
    warmup: { type: "string" },
    window: { type: "string" },
    payload: { type: "string", default: "160" },
    /** Publishes in flight at once: 1 = the next when the previous is answered. */
    depth: { type: "string", default: "1" },
    storm: { type: "string", default: "5000" },
    "idle-held": { type: "string", default: "10000,19000" },
    "stalled-fast": { type: "string", default: "500" },
    stalled: { type: "string", default: "10" },
    "stalled-rate": { type: "string", default: "50" },
    "stalled-payload": { type: "string", default: "2048" },
    "stalled-seconds": { type: "string", default: "25" },
    "stalled-rcvbuf": { type: "string", default: "4096" },
    "stalled-mss": { type: "string", default: "1024" },
    /** The Redis scenario's throughput run: rate asked and publishers (connections) at once. */
    "redis-subscribers": { type: "string", default: "100" },
    "redis-rate": { type: "string", default: "5000" },
    "redis-depth": { type: "string", default: "8" },
    "load-client": { type: "string", default: "c" },
    publisher: { type: "string", default: "c" },
    "load-instances": { type: "string" },
    json: { type: "string" },
    md: { type: "string" },
    plots: { type: "string" },
    "no-plots": { type: "boolean", default: false },
    /** Quick mode's thresholds. */
    "min-ratio": { type: "string", default: "1.2" },
    "max-p99-extra-ms": { type: "string", default: "20" },
    nice: { type: "string", default: process.getuid?.() === 0 ? "-10" : "0" },
    "max-minutes": { type: "string" },
  },
});

function num(k: keyof typeof flags, dflt?: number): number {
  const raw = flags[k];
  if (raw === undefined && dflt !== undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number`);
  return v;
}
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

const quick = flags.quick === true;
const cfg = {
  quick,
  warmupSeconds: num("warmup", quick ? 2 : 3),
  windowSeconds: num("window", quick ? 8 : 10),
  payloadBytes: num("payload"),
  depth: Math.max(1, num("depth")),
  stormConnections: num("storm"),
  idleHeld: list(String(flags["idle-held"])).map(Number),
  stalled: {
    fast: num("stalled-fast"),
    stalled: num("stalled"),
    rate: num("stalled-rate"),
    payloadBytes: num("stalled-payload"),
    stalledSeconds: num("stalled-seconds"),
    rcvbuf: num("stalled-rcvbuf"),
    mss: num("stalled-mss"),
  },
  redis: {
    latency: { subscribers: 1000, rate: 100 },
    throughput: { subscribers: num("redis-subscribers"), rate: num("redis-rate"), depth: num("redis-depth") },
  },
  minRatio: num("min-ratio"),
  maxP99ExtraMs: num("max-p99-extra-ms"),
};
const servers = list(flags.servers ?? (quick ? "sse-broker,node-floor" : ALL_SERVERS));
const scenarios = list(flags.scenarios ?? (quick ? "fanout-100" : ALL_SCENARIOS.join(","))) as ScenarioName[];
for (const s of scenarios)
  if (!ALL_SCENARIOS.includes(s))
    throw new Error(`unknown scenario ${s}; known: ${ALL_SCENARIOS.join(", ")}`);
const loadKind = flags["load-client"] as LoadKind;
if (loadKind !== "c" && loadKind !== "node") throw new Error("--load-client must be c or node");
const publisherKind = flags.publisher as PublisherKind;
if (publisherKind !== "c" && publisherKind !== "node") throw new Error("--publisher must be c or node");

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const jsonPath = resolve(
  flags.json ?? join(here, "results", `compare-${quick ? "quick-" : ""}${stamp}.json`),
);
const plotsDir =
  flags["no-plots"] === true || quick ? undefined : resolve(flags.plots ?? join(here, "results", "img"));

/** The commit measured, "+dirty" when src/ has uncommitted changes. */
function treeVersion(): string {
  try {
    const git = (args: string[]) =>
      execFileSync("git", args, { cwd: join(here, ".."), encoding: "utf8" }).trim();
    return `${git(["rev-parse", "--short", "HEAD"])}${git(["status", "--porcelain", "src"]) === "" ? "" : "+dirty"}`;
  } catch {
    return "unknown";
  }
}

function loadDescription(): string {
  const publisher = `HTTP publisher (${publisherKind === "c" ? "the same C program in its publisher role" : "Node, bench/lib/publisher.ts"}: keep-alive, ${cfg.depth} in flight, the next when answered) on core ${LOAD_CORE}`;
  if (loadKind === "node")
    return `Node raw-socket clients (bench/lib/load-client.ts, fallback); ${publisher}`;
  const cc = findCompiler();
  let version = "";
  try {
    version =
      cc === undefined ? "" : (execFileSync(cc, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "");
  } catch {
    // reported as missing when building
  }
  return `C epoll client bench/load/sse-load.c (${cc ?? "no compiler"} -O2${version === "" ? "" : `, ${version}`}), ${flags["load-instances"] ?? "1 per 15 000 connections"} process(es) on core ${LOAD_CORE}; ${publisher}`;
}

function save(r: CompareResults): void {
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(r, null, 2)}\n`);
}

async function attempt<T>(server: string, what: string, fn: () => Promise<T>): Promise<ScenarioOutcome<T>> {
  const t0 = performance.now();
  console.error(`[${what}] ${server} …`);
  try {
    const result = await fn();
    console.error(`[${what}] ${server} done in ${Math.round((performance.now() - t0) / 1000)} s`);
    return { server, result };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`[${what}] ${server} FAILED: ${message}`);
    return { server, error: message };
  }
}

function quickVerdict(list: ScenarioOutcome<FanoutWindow>[]): { pass: boolean; lines: string[] } {
  const ours = list.find((o) => o.server === "sse-broker")?.result;
  const floor = list.find((o) => o.server === "node-floor")?.result;
  if (ours === undefined || floor === undefined) {
    return { pass: false, lines: ["**Quick check: FAIL** — sse-broker or the floor has no result."] };
  }
  const r = ours.deliveriesPerCpuSecond / floor.deliveriesPerCpuSecond;
  const p99Limit = floor.latency.p99 + cfg.maxP99ExtraMs;
  const okRatio = r >= cfg.minRatio;
  const okP99 = ours.latency.p99 <= p99Limit;
  const pass = okRatio && okP99;
  return {
    pass,
    lines: [
      `**Quick check: ${pass ? "PASS" : "FAIL"}** (threshold: sse-broker ≥ ${cfg.minRatio}× the floor's deliveries per CPU-s, and p99 ≤ the floor's p99 + ${cfg.maxP99ExtraMs} ms)`,
      "",
      `- deliveries per CPU-s: sse-broker ${ours.deliveriesPerCpuSecond}, floor ${floor.deliveriesPerCpuSecond}: **${r.toFixed(2)}×** ${okRatio ? "ok" : "below"}`,
      `- p99: sse-broker ${ours.latency.p99} ms, floor ${floor.latency.p99} ms (limit ${Math.round(p99Limit * 100) / 100}): ${okP99 ? "ok" : "above"}`,
      `- p50: sse-broker ${ours.latency.p50} ms, floor ${floor.latency.p50} ms; load client CPU ${ours.load.clientCpuPct}% / ${floor.load.clientCpuPct}%`,
    ],
  };
}

async function main(): Promise<number> {
  const nice = Number(flags.nice);
  prepareOrchestrator(LOAD_CORE, nice);
  const specs: ServerSpec[] = [];
  const skipped: CompareResults["skipped"] = [];
  for (const name of servers) {
    const spec = serverSpec(name);
    if (spec === undefined)
      throw new Error(`unknown server ${name}; known: ${ALL_SERVERS}, sse-broker-warn, sse-broker@DIR`);
    const why = spec.missing();
    if (why === undefined) specs.push(spec);
    else {
      console.error(`skipping ${name}: ${why}`);
      skipped.push({ name, reason: why });
    }
  }
  const ctx: RunContext = {
    serverCore: SERVER_CORE,
    loadCore: LOAD_CORE,
    loadKind,
    publisherKind,
    ...(flags["load-instances"] === undefined ? {} : { loadInstances: Math.max(1, num("load-instances")) }),
    warmupSeconds: cfg.warmupSeconds,
    windowSeconds: cfg.windowSeconds,
    log: (m) => console.error(m),
  };
  const r: CompareResults = {
    date: new Date().toISOString(),
    tree: treeVersion(),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: machineInfo(),
    loadClient: loadDescription(),
    config: { ...cfg, servers, scenarios, nice, serverCore: SERVER_CORE, loadCore: LOAD_CORE },
    servers: specs.map((s) => ({ name: s.name, describe: s.describe })),
    skipped,
    fanout: {},
  };
  const fanouts: Record<string, { subscribers: number; rate: number; windowSeconds?: number }> = {
    "fanout-100": { subscribers: 1000, rate: 100 },
    "fanout-1000": { subscribers: 1000, rate: 1000 },
    "fanout-5000": { subscribers: 5000, rate: 50 },
    // 5 events/s: at least 20 s, so that percentiles rest on 100 events
    "low-rate": { subscribers: 1000, rate: 5, windowSeconds: Math.max(cfg.windowSeconds, 20) },
  };
  for (const sc of scenarios) {
    const f = fanouts[sc];
    if (f !== undefined) {
      const out: ScenarioOutcome<FanoutWindow>[] = [];
      for (const spec of specs) {
        out.push(
          await attempt(spec.name, sc, () =>
            fanout(ctx, spec, { ...f, payloadBytes: cfg.payloadBytes, depth: cfg.depth }),
          ),
        );
      }
      r.fanout[sc as keyof CompareResults["fanout"]] = out;
    } else if (sc === "storm") {
      r.storm = [];
      for (const spec of specs)
        r.storm.push(await attempt(spec.name, sc, () => storm(ctx, spec, cfg.stormConnections)));
    } else if (sc === "idle") {
      r.idle = [];
      for (const spec of specs)
        r.idle.push(await attempt(spec.name, sc, () => idle(ctx, spec, cfg.idleHeld)));
    } else if (sc === "redis") {
      r.redis = { latency: [], throughput: [] };
      for (const name of REDIS_SERVERS) {
        const spec = serverSpec(name) as ServerSpec;
        const why = spec.missing();
        if (why !== undefined) {
          console.error(`skipping ${name}: ${why}`);
          r.redis.latency.push({ server: name, error: why });
          continue;
        }
        r.redis.latency.push(
          await attempt(name, "redis-latency", () =>
            fanout(ctx, spec, { ...cfg.redis.latency, payloadBytes: cfg.payloadBytes, depth: 1 }),
          ),
        );
        r.redis.throughput.push(
          await attempt(name, "redis-throughput", () =>
            fanout(ctx, spec, { ...cfg.redis.throughput, payloadBytes: cfg.payloadBytes }),
          ),
        );
      }
    } else if (sc === "stalled") {
      r.stalled = [];
      for (const spec of specs) {
        r.stalled.push(
          await attempt(spec.name, sc, () => stalled(ctx, spec, { ...cfg.stalled, depth: cfg.depth })),
        );
      }
    }
    save(r);
  }
  if (quick) r.verdict = quickVerdict(r.fanout["fanout-100"] ?? []);
  save(r);
  const md = report(r);
  process.stdout.write(md);
  if (flags.md !== undefined) writeFileSync(resolve(flags.md), md);
  console.error(`JSON: ${jsonPath}`);
  if (plotsDir !== undefined) {
    try {
      const files = await renderPlots(r, plotsDir);
      console.error(`plots: ${files.join(", ")}`);
    } catch (err) {
      console.error(`plots not rendered: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return r.verdict === undefined || r.verdict.pass ? 0 : 1;
}

// A run is bounded in time whatever happens; children never outlive it.
runBounded(main, num("max-minutes", quick ? 3 : 60));
