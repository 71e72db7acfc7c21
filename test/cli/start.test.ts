/**
 * `npm start` as a new user runs it: in a copy of the project (sources, scripts, package files; the
 * dependencies linked from this checkout), through npm itself. It builds only when the sources changed,
 * listens on loopback only, and a SIGTERM to npm stops the broker cleanly with exit code 0.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { cleanEnv, type LogLine } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A copy npm start can run in without touching this checkout: node_modules is a folder of links. */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "sse-broker-start-"));
  for (const f of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(ROOT, f), join(dir, f), { preserveTimestamps: true });
  }
  for (const d of ["src", "scripts", "web"]) {
    cpSync(join(ROOT, d), join(dir, d), { recursive: true, preserveTimestamps: true });
  }
  // Links, not one link to the folder: should anything ever run `npm ci` here, it removes the links only.
  const modules = join(dir, "node_modules");
  mkdirSync(modules);
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry === ".package-lock.json") continue;
    symlinkSync(join(ROOT, "node_modules", entry), join(modules, entry));
  }
  cpSync(join(ROOT, "node_modules/.package-lock.json"), join(modules, ".package-lock.json"));
  // The install is newer than the lockfile, as after `npm ci`: start.sh must not install again.
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(dir, "package-lock.json"), old, old);
  return dir;
}

interface Started {
  readonly npm: ChildProcess;
  /** The broker's "Listening" line (its pid is the node process npm started). */
  readonly listening: LogLine;
  /** npm's exit status. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** npm's stdout ended: every line of the broker's log is in `logs` (a broker left running holds it open). */
  readonly closed: Promise<void>;
  readonly logs: LogLine[];
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of running) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, "SIGKILL");
});

/** `npm start -- ARGS` in `dir`; resolves once the broker logs that it listens. */
function npmStart(dir: string, args: readonly string[], env = cleanEnv()): Promise<Started> {
  const npm = spawn("npm", ["start", "--", ...args], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(npm);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once("exit", (code, signal) => {
      running.delete(npm);
      resolve({ code, signal });
    }),
  );
  const closed = new Promise<void>((resolve) => npm.once("close", () => resolve()));
  const logs: LogLine[] = [];
  let out = "";
  let err = "";
  npm.stderr?.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen in 120 s: ${err}`)), 120_000);
    npm.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (out + chunk).split("\n");
      out = lines.pop() ?? "";
      for (const text of lines) {
        if (!text.startsWith("{")) continue; // npm's own "> sse-broker@… start" banner
        const line = JSON.parse(text) as LogLine;
        logs.push(line);
        if (line.msg.startsWith("Listening on ")) {
          clearTimeout(timer);
          resolve({ npm, listening: line, exited, closed, logs });
        }
      }
    });
    void exited.then((e) => reject(new Error(`npm start exited before listening (${e.code}): ${err}`)));
  });
}

/** SIGTERM to npm; its exit status, once its output ended too (bounded: an orphaned broker is killed). */
async function stop(s: Started): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  s.npm.kill("SIGTERM");
  const exit = await s.exited;
  const broker = s.listening.pid;
  const timer = setTimeout(() => {
    if (alive(broker)) process.kill(broker, "SIGKILL"); // npm left it running: the test fails below
  }, 10_000);
  await s.closed;
  clearTimeout(timer);
  return exit;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm start", () => {
  let dir = "";
  before(() => {
    dir = copyProject();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("builds on a fresh copy and not again when nothing changed", async () => {
    const first = await npmStart(dir, ["--port", "0", "--no-demo"]);
    await stop(first);
    const built = statSync(join(dir, "dist/cli/main.js")).mtimeMs;

    const second = await npmStart(dir, ["--port", "0", "--no-demo"]);
    await stop(second);
    assert.equal(
      statSync(join(dir, "dist/cli/main.js")).mtimeMs,
      built,
      "dist/cli/main.js was not rewritten",
    );
  });

  it("builds again after a source changed; --host and HOST choose the address", async () => {
    const main = join(dir, "dist/cli/main.js");
    const built = statSync(main).mtimeMs;
    // Just newer than the last build; never in the future, which would stay newer than every later build.
    const edited = new Date(statSync(main).mtimeMs + 10);
    utimesSync(join(dir, "src/cli/main.ts"), edited, edited);
    const flag = await npmStart(dir, ["--port", "0", "--no-demo", "--host", "127.0.0.2"]);
    await stop(flag);
    assert.ok(statSync(main).mtimeMs > built, "the changed source was built");
    assert.equal(flag.listening.address, "127.0.0.2");

    const env = await npmStart(dir, ["--port", "0", "--no-demo"], cleanEnv({ HOST: "127.0.0.2" }));
    await stop(env);
    assert.equal(env.listening.address, "127.0.0.2");
  });

  it("listens on all interfaces by default and exits 0 when npm gets SIGTERM (no orphan broker)", async () => {
    const s = await npmStart(dir, ["--port", "0", "--no-demo"]);
    const address = String(s.listening.address);
    assert.ok(["::", "0.0.0.0"].includes(address), `listening on ${address}`);
    const brokerPid = s.listening.pid;
    assert.notEqual(brokerPid, s.npm.pid);
    const exit = await stop(s);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(
      s.logs.some((l) => l.msg === "Stopped"),
      "the broker itself shut down",
    );
    assert.equal(alive(brokerPid), false, "the broker process is gone");
  });
});
