/**
 * Starts a broker on a real HTTP server on 127.0.0.1 with an ephemeral port, in this process.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CreateBrokerOptions, createBroker, type SseBroker } from "../../src/index.js";

export interface TestServer {
  readonly broker: SseBroker;
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

export async function startServer(options: CreateBrokerOptions = {}): Promise<TestServer> {
  const broker = createBroker({ heartbeatMs: null, ...options });
  const server = createServer(broker.handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    broker,
    server,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await broker.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** POSTs to the broker's publish API; resolves with status and parsed JSON (or text) body. */
export async function publish(
  url: string,
  body: unknown,
  opts: { contentType?: string; headers?: Record<string, string>; query?: string } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const contentType = opts.contentType ?? "application/json";
  const res = await fetch(`${url}/publish${opts.query ?? ""}`, {
    method: "POST",
    headers: { "Content-Type": contentType, ...opts.headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}
