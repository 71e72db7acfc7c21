/**
 * Cluster tests: real broker processes (`node dist/cli/main.js`, run `npm run build` first) on 127.0.0.1
 * sharing one real `redis-server`. Processes are spawned and killed by PID through test/cli/helpers.ts.
 */
import { randomUUID } from "node:crypto";
import { type IncomingHttpHeaders, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { type CliProcess, HOST, type OpenStream, startCli } from "../cli/helpers.js";

export type Node = CliProcess & { port: number };

/** A key prefix of its own, so test files sharing nothing still never see each other's keys. */
export function uniquePrefix(): string {
  return `test:${randomUUID()}:`;
}

/** Starts `count` nodes on one Redis and prefix, in parallel; resolves once all listen. */
export async function startNodes(
  count: number,
  redisUrl: string,
  prefix: string,
  args: readonly string[] = [],
): Promise<Node[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startCli(["--redis", redisUrl, "--redis-prefix", prefix, "--no-demo", ...args]),
    ),
  );
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on its own connection, bounded in time. */
export function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method, headers, agent: false, timeout: 10_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** `POST /publish` (JSON body); the event's id on 200. */
export async function publish(
  port: number,
  topic: string,
  data: string,
  token?: string,
): Promise<Response & { id?: string }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const res = await call(port, "POST", "/publish", headers, JSON.stringify({ topic, data }));
  return res.status === 200 ? { ...res, id: (JSON.parse(res.body) as { id: string }).id } : res;
}

export interface Event {
  id: string;
  data: string;
}

/** The events (blocks with an `id:`) a stream received so far, in order. */
export function eventsOf(stream: OpenStream): Event[] {
  const out: Event[] = [];
  for (const { block } of stream.events) {
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("id:")) id = line.slice(3);
      else if (line.startsWith("data:")) data.push(line.slice(5));
    }
    if (id !== undefined) out.push({ id, data: data.join("\n") });
  }
  return out;
}

/** Heartbeat comments received so far (blocks made of `:` lines only). */
export function commentsOf(stream: OpenStream): number {
  return stream.events.filter(({ block }) => block.split("\n").every((l) => l.startsWith(":"))).length;
}

/** Polls `check` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** SIGKILL by PID, then wait until the process is gone. */
export async function sigkill(node: Node): Promise<void> {
  node.kill();
  await node.exited;
}
