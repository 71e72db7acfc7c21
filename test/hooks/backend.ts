/**
 * A real application backend for hook tests: node:http on 127.0.0.1 (ephemeral port) that records every
 * call (headers and parsed JSON body) and answers with the test's `answer` function. An answer may hold
 * the response until the test calls `release()`.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HookCall {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

export type Answer = (call: HookCall, res: ServerResponse) => void;

export interface Backend {
  readonly url: string;
  readonly calls: HookCall[];
  answer: Answer;
  /** Answers every held response with `answer` and stops holding. */
  release(answer?: Answer): void;
  /** Holds the responses to come until `release()`. */
  hold(): void;
  close(): Promise<void>;
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Answer {
  return (_call, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
}

export const allow = json({ allow: true });

export async function startBackend(answer: Answer = allow): Promise<Backend> {
  const calls: HookCall[] = [];
  let holding = false;
  let held: [HookCall, ServerResponse][] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    const call = { path: req.url ?? "", headers: req.headers, body };
    calls.push(call);
    if (holding) held.push([call, res]);
    else b.answer(call, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const b: Backend = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    answer,
    hold() {
      holding = true;
    },
    release(a) {
      holding = false;
      const now = held;
      held = [];
      for (const [call, res] of now) (a ?? b.answer)(call, res);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
  return b;
}
