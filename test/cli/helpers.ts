/**
 * Runs the built CLI (`node dist/cli/main.js`, run `npm run build` first) as a real child process on
 * 127.0.0.1 and reads its JSON log lines. Every child is killed by its PID when a test ends or the test
 * process exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { type IncomingMessage, request } from "node:http";
import { fileURLToPath } from "node:url";

export const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

import { send } from "../helpers/http.js";
import { freePort, HOST } from "../helpers/net.js";

export { freePort, HOST };

if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) if (c.pid !== undefined) process.kill(c.pid, "SIGKILL");
});

/** The test's environment minus anything the CLI reads, so the outer shell cannot change a result. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("SSE_BROKER_") || ["PORT", "HOST", "LOG_LEVEL", "REDIS_URL"].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface LogLine {
  level: number;
  msg: string;
  pid: number;
  [key: string]: unknown;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logs: LogLine[];
  stderr(): string;
  /** Resolves with the first log line at index >= `from` (already seen or coming) that matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  /** Resolves on exit. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by PID if still running. */
  kill(): void;
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()): CliProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error("could not spawn the CLI");
  children.add(child);
  const pid = child.pid;
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stdoutRest = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (stdoutRest + chunk).split("\n");
    stdoutRest = lines.pop() ?? "";
    for (const text of lines) {
      if (text.trim() === "") continue;
      const line = JSON.parse(text) as LogLine; // not a TTY: every stdout line must be JSON
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, "exit").then(([code, signal]) => {
    children.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return {
    child,
    pid,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 10_000, from = 0) {
      const seen = logs.slice(from).find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`the CLI exited before a matching log line; stderr: ${stderr}`));
        });
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
    },
  };
}

/** Starts the CLI on 127.0.0.1 and a free port (unless args say otherwise); resolves once it listens. */
export async function startCli(
  args: readonly string[] = [],
  env?: NodeJS.ProcessEnv,
): Promise<CliProcess & { port: number }> {
  const portFromEnv = env?.PORT !== undefined || env?.SSE_BROKER_PORT !== undefined;
  const withDefaults = [
    ...(args.includes("--port") || portFromEnv ? [] : ["--port", "0"]),
    ...(args.includes("--host") ? [] : ["--host", HOST]),
    ...args,
  ];
  const cli = spawnCli(withDefaults, env);
  try {
    const line = await cli.waitForLog((l) => l.msg.startsWith("Listening on "));
    return Object.assign(cli, { port: line.port as number });
  } catch (err) {
    cli.kill();
    throw err;
  }
}

/** Runs the CLI to completion (for --help, bad config); bounded in time. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
  timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  }, timeoutMs);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  children.delete(child);
  return { code, stdout, stderr };
}

export interface OpenStream {
  readonly res: IncomingMessage;
  /** Raw text received so far. */
  text(): string;
  /** Arrival time (performance.now()) of each complete event block, with its text. */
  readonly events: { at: number; block: string }[];
  /** Resolves once `n` event blocks arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves `"end"` when the body ended cleanly, `"error"` on a reset/abort. */
  readonly ended: Promise<"end" | "error">;
  destroy(): void;
}

/** GET an event stream on 127.0.0.1 with its own connection (no agent pooling). */
export function openStream(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, headers, agent: false });
    req.once("error", reject);
    req.once("response", (res) => {
      res.setEncoding("utf8");
      let text = "";
      let rest = "";
      const events: { at: number; block: string }[] = [];
      const waiters: { n: number; resolve: () => void }[] = [];
      res.on("data", (chunk: string) => {
        text += chunk;
        const blocks = (rest + chunk).split("\n\n");
        rest = blocks.pop() ?? "";
        const at = performance.now();
        for (const block of blocks) events.push({ at, block });
        for (const w of [...waiters]) {
          if (events.length >= w.n) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      });
      const ended = new Promise<"end" | "error">((done) => {
        res.once("end", () => done(res.complete ? "end" : "error"));
        res.once("error", () => done("error"));
        res.once("aborted", () => done("error"));
      });
      resolve({
        res,
        text: () => text,
        events,
        ended,
        waitForEvents(n, timeoutMs = 10_000) {
          if (events.length >= n) return Promise.resolve();
          return new Promise((ok, fail) => {
            const timer = setTimeout(
              () => fail(new Error(`fewer than ${n} events in ${timeoutMs} ms`)),
              timeoutMs,
            );
            waiters.push({
              n,
              resolve: () => {
                clearTimeout(timer);
                ok();
              },
            });
          });
        },
        destroy: () => req.destroy(),
      });
    });
    req.end();
  });
}

/** POSTs a Mercure publish form with a bearer token: status, body (the id) and the `WWW-Authenticate` challenge. */
export async function publishMercure(
  port: number,
  token: string,
  form: string,
): Promise<{ status: number; body: string; challenge: string | undefined }> {
  const r = await send(`http://${HOST}:${port}/.well-known/mercure`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const challenge = r.headers["www-authenticate"];
  return { status: r.status, body: r.body, challenge: typeof challenge === "string" ? challenge : undefined };
}
