/**
 * Linux process accounting read straight from /proc: CPU time (utime + stime, all threads) and resident
 * memory of another process, so the figures cover the server process itself and nothing else.
 * @module
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ); 100 on every Linux we run on. */
export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime + stime of the process in seconds (resolution 1/CLK_TCK). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Pins every thread of a running process to one CPU core. */
export function pinProcess(pid: number, core: number): void {
  execFileSync("taskset", ["-a", "-p", "-c", String(core), String(pid)], { stdio: "ignore" });
}

export function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Short description of the machine for the results. */
export function machineInfo(): Record<string, string | number> {
  const cpuinfo = readFileSync("/proc/cpuinfo", "latin1");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const mem = /MemTotal:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "latin1"))?.[1];
  const kernel = readFileSync("/proc/sys/kernel/osrelease", "latin1").trim();
  // `nproc --all`: this process may already be pinned to one core.
  const nproc = Number(execFileSync("nproc", ["--all"], { encoding: "utf8" }).trim());
  return {
    nproc,
    cpu: model,
    memGiB: mem === undefined ? 0 : Math.round((Number(mem) / 1024 / 1024) * 10) / 10,
    node: process.version,
    kernel,
  };
}

/** Busy (non-idle, non-iowait) seconds of one CPU core since boot, from /proc/stat. */
export function coreBusySeconds(core: number): number {
  const line = readFileSync("/proc/stat", "latin1")
    .split("\n")
    .find((l) => l.startsWith(`cpu${core} `));
  if (line === undefined) return 0;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy / CLK_TCK;
}

/** softirq seconds of one core since boot (network receive processing lands here on loopback). */
export function coreSoftirqSeconds(core: number): number {
  const line = readFileSync("/proc/stat", "latin1")
    .split("\n")
    .find((l) => l.startsWith(`cpu${core} `));
  return line === undefined ? 0 : Number(line.trim().split(/\s+/)[7] ?? 0) / CLK_TCK;
}

export function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "latin1").split(" ")[0]);
}

/**
 * Seconds the process's main thread spent runnable but waiting for a CPU (/proc/<pid>/schedstat, field 2),
 * 0 when the kernel does not expose it: how long the load generator was kept from its core.
 */
export function runQueueWaitSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "latin1").split(" ")[1] ?? 0) / 1e9;
  } catch {
    return 0;
  }
}

/** A process and all its descendants (a cluster primary's workers), from /proc; [] once it is gone. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    out.push(p);
    for (const tid of tids) {
      let kids = "";
      try {
        kids = readFileSync(`/proc/${p}/task/${tid}/children`, "latin1").trim();
      } catch {
        // thread gone
      }
      for (const k of kids === "" ? [] : kids.split(" ")) visit(Number(k));
    }
  };
  visit(pid);
  return out;
}

/** CPU seconds of a process and its descendants (those alive now). */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((a, p) => a + safe(() => cpuSeconds(p)), 0);
}

/** RSS of a process and its descendants. */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((a, p) => a + safe(() => rssBytes(p)), 0);
}

function safe(f: () => number): number {
  try {
    return f();
  } catch {
    return 0; // exited between the listing and the reading
  }
}
