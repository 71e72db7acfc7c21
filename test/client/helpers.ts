/**
 * A broker on 127.0.0.1 whose stream requests are recorded (URL path+query, Last-Event-ID, Authorization),
 * and a recorder of everything a client reports, for the client tests.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SseClient, SseMessage } from "../../src/client/index.js";
import { type CreateBrokerOptions, createBroker, type SseBroker } from "../../src/index.js";

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface RecordingBroker {
  readonly broker: SseBroker;
  readonly base: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingBroker(options: CreateBrokerOptions = {}): Promise<RecordingBroker> {
  const broker = createBroker({ heartbeatMs: null, metrics: false, ...options });
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    broker.handler(req, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    broker,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      await broker.close();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** One recorded report: a client event's data, or a data event's message (`kind` "data"). */
export interface Seen {
  readonly kind: string;
  readonly data?: unknown;
  readonly message?: SseMessage;
}

/** Records every client event and the given data event types, in order. */
export function record(client: SseClient, dataTypes: string[] = ["message"]): Seen[] {
  const seen: Seen[] = [];
  const kinds = [
    "open",
    "error",
    "token-refreshed",
    "sse-broker.missed",
    "sse-broker.token-expiring",
    "sse-broker.closed",
  ] as const;
  for (const kind of kinds) client.on(kind, (data: unknown) => seen.push({ kind, data }));
  for (const type of dataTypes)
    client.on(type, (message: SseMessage) => seen.push({ kind: "data", message }));
  return seen;
}

/** The data events' data, in order. */
export const dataOf = (seen: Seen[]): unknown[] =>
  seen.flatMap((s) => (s.kind === "data" ? [s.message?.data] : []));

export const count = (seen: Seen[], kind: string): number => seen.filter((s) => s.kind === kind).length;
