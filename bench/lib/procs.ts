/**
 * Child processes of the benchmark: started pinned to a core with `taskset`, talked to over IPC, and all
 * killed by PID when the run ends, fails, or is interrupted.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { hasTaskset, pinProcess } from "./proc.js";

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  send(msg: unknown): void;
  /** Next message with this `type` (messages are queued, so none is missed between calls). */
  next<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  request<T = Record<string, unknown>>(msg: unknown, type: string, timeoutMs?: number): Promise<T>;
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const c of live) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

/** Stops one process by PID: asks it to exit over IPC (else SIGTERM), SIGKILL after `killAfterMs`. */
export async function stop(p: Proc, killAfterMs = 2000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  try {
    if (p.child.connected || p.child.stdin !== null) p.send({ cmd: "exit" });
    else process.kill(p.pid, "SIGTERM");
  } catch {
    // channel already closed, or gone
  }
  const t = setTimeout(() => {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }, killAfterMs);
  await p.exited;
  clearTimeout(t);
  live.delete(p.child);
}

let niceness = 0;

/**
 * Niceness of every process started from now on. On a shared machine a negative value (root only) keeps
 * other work from taking the benchmark's cores; `nice` and `taskset` exec, so the PID stays the program's.
 * With the kernel's autogroup scheduling, nice only ranks processes within one session, so each process
 * also gets its own session (setsid) whose autogroup gets the same nice value.
 */
export function setNiceness(n: number): void {
  niceness = n;
}

/** Pass as `core` to run a process on any core (no `taskset`). */
export const UNPINNED = -1;

function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  const base = core === UNPINNED ? [cmd, ...args] : ["taskset", "-c", String(core), cmd, ...args];
  return niceness === 0 ? [base[0] as string, base.slice(1)] : ["nice", ["-n", String(niceness), ...base]];
}

/** Runs `node <nodeArgs> <script>` pinned to `core` (the PID is node's); stdout to ours or /dev/null. */
export function spawnNode(
  name: string,
  core: number,
  nodeArgs: string[],
  script: string,
  scriptArgs: string[] = [],
  opts: { stdout?: "inherit" | "ignore"; env?: NodeJS.ProcessEnv } = {},
): Proc {
  const [cmd, args] = pinned(core, process.execPath, [...nodeArgs, script, ...scriptArgs]);
  const child = spawn(cmd, args, {
    stdio: ["ignore", opts.stdout ?? "inherit", "inherit", "ipc"],
    detached: niceness !== 0,
    ...(opts.env === undefined ? {} : { env: opts.env }),
  });
  return wrap(name, child);
}

/**
 * Any other program (redis-server, nginx, the sse-broker CLI), pinned to `core`, no IPC. Its stdout is
 * ignored unless `stdout: "pipe"` (then read `child.stdout`, or it blocks once the pipe is full).
 */
export function spawnPinned(
  name: string,
  core: number,
  cmd: string,
  args: string[],
  opts: { stdout?: "pipe" | "ignore"; env?: NodeJS.ProcessEnv } = {},
): Proc {
  const [c, a] = pinned(core, cmd, args);
  const child = spawn(c, a, {
    stdio: ["ignore", opts.stdout ?? "ignore", "inherit"],
    detached: niceness !== 0,
    ...(opts.env === undefined ? {} : { env: opts.env }),
  });
  return wrap(name, child);
}

/**
 * A program driven over stdin/stdout with one JSON object per line (the C load generator), pinned to
 * `core`: `send` writes a line, each line it prints is a message (matched by `type` like IPC messages).
 * `child.connected` stays false, so IPC-only helpers skip it; `stop` sends `{"cmd":"exit"}` on stdin.
 */
export function spawnLines(name: string, core: number, cmd: string, args: string[] = []): Proc {
  const [c, a] = pinned(core, cmd, args);
  const child = spawn(c, a, { stdio: ["pipe", "pipe", "inherit"], detached: niceness !== 0 });
  let rest = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        child.emit("message", JSON.parse(line));
      } catch {
        console.error(`${name}: not a JSON line: ${line.slice(0, 200)}`);
      }
    }
  });
  // A broken pipe when it has exited is reported by `exited`, not as an unhandled error.
  child.stdin?.on("error", () => {});
  return wrap(name, child, (msg) => {
    child.stdin?.write(`${JSON.stringify(msg)}\n`);
  });
}

function wrap(name: string, child: ChildProcess, sendLine?: (msg: unknown) => void): Proc {
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
  live.add(child);
  if (niceness !== 0) {
    try {
      writeFileSync(`/proc/${child.pid}/autogroup`, String(niceness));
    } catch {
      // no autogroup scheduling (or not permitted): the per-process nice still applies
    }
  }
  const queue: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  child.on("message", (m: Record<string, unknown>) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) {
      const [w] = waiters.splice(i, 1);
      w?.resolve(m);
    } else queue.push(m);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      live.delete(child);
      resolve(code);
    });
  });
  const next = <T>(type: string, timeoutMs = 60_000): Promise<T> => {
    const i = queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const w = {
        type,
        resolve: (m: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      };
      const timer = setTimeout(() => {
        const k = waiters.indexOf(w);
        if (k >= 0) waiters.splice(k, 1);
        reject(new Error(`${name}: no '${type}' message within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(w);
      void exited.then((code) => {
        if (waiters.includes(w)) {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) while waiting for '${type}'`));
        }
      });
    });
  };
  const p: Proc = {
    name,
    child,
    pid: child.pid,
    exited,
    send: sendLine ?? ((msg) => child.send?.(msg as never)),
    next,
    request: <T>(msg: unknown, type: string, timeoutMs?: number) => {
      const r = next<T>(type, timeoutMs);
      p.send(msg);
      return r;
    },
  };
  return p;
}

/**
 * Runs a benchmark's `main` as the process: its exit code is main's (1 on a throw), bounded to `minutes`
 * (exit 2), and every child it started is killed on exit, on error, on Ctrl-C and on SIGTERM.
 */
export function runBounded(main: () => Promise<number>, minutes: number, onSignal?: () => void): void {
  const hardStop = setTimeout(() => {
    console.error(`exceeded its time bound (${minutes} min); stopping`);
    killAll();
    process.exit(2);
  }, minutes * 60_000);
  hardStop.unref();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      killAll();
      onSignal?.();
      process.exit(130);
    });
  }
  process.on("exit", killAll);
  main().then(
    (code) => {
      killAll();
      process.exit(code);
    },
    (err: unknown) => {
      console.error(err);
      killAll();
      process.exit(1);
    },
  );
}

/**
 * The orchestrator's own set-up: pinned to the load core, and the niceness of what it starts (checked once
 * here: a refused `nice` would otherwise fail every spawn).
 */
export function prepareOrchestrator(loadCore: number, nice: number): void {
  if (!hasTaskset()) throw new Error("taskset (util-linux) is required to pin the processes to cores");
  pinProcess(process.pid, loadCore);
  if (nice === 0) return;
  try {
    execFileSync("nice", ["-n", String(nice), "true"], { stdio: "ignore" });
    setNiceness(nice);
  } catch {
    console.error(`nice ${nice} refused; running at default priority`);
  }
}

/** Whether `cmd` is a program on PATH (the benchmarks say what is missing; they install nothing). */
export function onPath(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
