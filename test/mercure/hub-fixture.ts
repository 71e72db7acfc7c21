/**
 * A real hub on 127.0.0.1 for Mercure tests: `createBroker({ mercure })` as an embedding application would
 * mount it (demo routes included), JWT helpers made with jose, and a form-publish helper.
 */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { type CreateBrokerOptions, createBroker, type SseBroker } from "../../src/index.js";
import type { MercureOptions } from "../../src/mercure/index.js";
import type { SseConnection } from "../helpers/sse-client.js";
import { waitFor } from "../helpers/wait.js";

export const PUBLISHER_SECRET = "publisher-secret-at-least-256-bits-long!!";
export const SUBSCRIBER_SECRET = "subscriber-secret-at-least-256-bits-long!";

export interface Hub {
  readonly broker: SseBroker;
  readonly base: string;
  /** `${base}/.well-known/mercure` */
  readonly hub: string;
  close(): Promise<void>;
}

export async function startHub(
  mercure: MercureOptions = {},
  brokerOptions: CreateBrokerOptions = {},
): Promise<Hub> {
  const broker = createBroker({
    heartbeatMs: null,
    metrics: false,
    ...brokerOptions,
    mercure: { publisherJwtKey: PUBLISHER_SECRET, subscriberJwtKey: SUBSCRIBER_SECRET, ...mercure },
  });
  const server: Server = createServer(broker.handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    broker,
    base,
    hub: `${base}/.well-known/mercure`,
    async close() {
      await broker.close();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

export interface TokenOptions {
  alg?: string;
  exp?: number;
  nbf?: number;
  /** Extra header fields (e.g. `kid`). */
  header?: Record<string, unknown>;
}

/** A JWT with the given `mercure` claim (omitted when `undefined`), signed with an HS secret or a key. */
export async function token(
  mercure: Record<string, unknown> | undefined,
  key: string | KeyObject = PUBLISHER_SECRET,
  opts: TokenOptions = {},
): Promise<string> {
  const jwt = new SignJWT(mercure === undefined ? {} : { mercure }).setProtectedHeader({
    alg: opts.alg ?? "HS256",
    ...opts.header,
  });
  jwt.setIssuedAt();
  if (opts.exp !== undefined) jwt.setExpirationTime(opts.exp);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(typeof key === "string" ? new TextEncoder().encode(key) : key);
}

export const publisherToken = (publish: string[] = ["*"], opts: TokenOptions = {}): Promise<string> =>
  token({ publish }, PUBLISHER_SECRET, opts);

export const subscriberToken = (
  subscribe: string[] = ["*"],
  extra: Record<string, unknown> = {},
  opts: TokenOptions = {},
): Promise<string> => token({ subscribe, ...extra }, SUBSCRIBER_SECRET, opts);

export interface HttpResult {
  status: number;
  headers: import("node:http").IncomingHttpHeaders;
  body: string;
}

/** One plain HTTP request (own socket, bounded in time). */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${url} within 5000 ms`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Publishes a form (`fields` in order; repeat a name for several values) with a bearer token. */
export function publishForm(
  hub: string,
  fields: [string, string][],
  jwt: string | null,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return httpRequest(hub, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(jwt === null ? {} : { Authorization: `Bearer ${jwt}` }),
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The JSON error code of an error response. */
export function errorCode(r: HttpResult): string | undefined {
  try {
    return (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

export function subscribeUrl(hub: string, topics: string[], extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const t of topics) q.append("topic", t);
  for (const [k, v] of Object.entries(extra)) q.append(k, v);
  return `${hub}?${q}`;
}

/** The topic of the end markers `settle` publishes. */
export const MARKER = "https://example.com/marker";

/** Publishes `data` on `topic` with a classic publisher token (asserting a 200); the update's id. */
export async function publishData(h: Hub, topic: string, data: string, opts: { private?: boolean } = {}) {
  const fields: [string, string][] = [
    ["topic", topic],
    ["data", data],
  ];
  if (opts.private === true) fields.push(["private", "on"]);
  const r = await publishForm(h.hub, fields, await publisherToken());
  assert.equal(r.status, 200, r.body);
  return r.body;
}

/**
 * Publishes a marker on MARKER and waits for it on `sse` (which must match it): everything published
 * before it was delivered, or never will be. The data of the events before the marker.
 */
export async function settle(h: Hub, sse: SseConnection): Promise<string[]> {
  const id = await publishData(h, MARKER, "marker");
  await waitFor("the marker", () => sse.events.some((e) => e.id === id), 5000);
  return sse.events.filter((e) => e.data !== "marker").map((e) => e.data);
}
