/**
 * The C load generator (`bench/load/sse-load.c`): compiled on demand with `gcc -O2` into a gitignored cache
 * (`bench/.cache/`, one binary per source hash, so an edit rebuilds and a rerun does not), then started as
 * line-JSON children pinned to the load core. Nothing is installed: without gcc the error says what is
 * missing and how to fall back to the Node client.
 * @module
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Proc, spawnLines } from "./procs.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const LOAD_SOURCE = join(benchDir, "load", "sse-load.c");
export const CACHE_DIR = join(benchDir, ".cache");

/** The C compiler on PATH (`CC` if set), or undefined. */
export function findCompiler(): string | undefined {
  for (const cc of [process.env.CC, "gcc", "cc"]) {
    if (cc === undefined || cc === "") continue;
    try {
      execFileSync(cc, ["--version"], { stdio: "ignore" });
      return cc;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Path of the compiled load generator, building it first when the source changed. */
export function buildLoadGenerator(): string {
  const src = readFileSync(LOAD_SOURCE);
  const hash = createHash("sha256").update(src).digest("hex").slice(0, 12);
  const bin = join(CACHE_DIR, `sse-load-${hash}`);
  if (existsSync(bin)) return bin;
  const cc = findCompiler();
  if (cc === undefined) {
    throw new Error(
      "the C load generator needs a C compiler and none was found (gcc, cc, or $CC): install one " +
        "(Debian: apt-get install -y gcc) or run with --load-client node (slower; it may become the bottleneck)",
    );
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  execFileSync(cc, ["-O2", "-Wall", "-Wextra", "-o", tmp, LOAD_SOURCE], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  renameSync(tmp, bin);
  // Binaries of older sources are of no further use.
  for (const f of readdirSync(CACHE_DIR)) {
    if (f.startsWith("sse-load-") && join(CACHE_DIR, f) !== bin && !f.endsWith(".tmp"))
      rmSync(join(CACHE_DIR, f), { force: true });
  }
  return bin;
}

/** Starts `n` load generators pinned to `core`, each answered its "ready" line. */
export async function startCLoad(n: number, core: number, names = "sse-load"): Promise<Proc[]> {
  const bin = buildLoadGenerator();
  const ps = Array.from({ length: n }, (_, i) => spawnLines(`${names}-${i}`, core, bin));
  await Promise.all(ps.map((p) => p.next("ready", 10_000)));
  return ps;
}
