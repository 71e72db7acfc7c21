/**
 * Publishes the doctor's probe event: a form to a Mercure hub (`/.well-known/mercure`), JSON
 * `{"topic","data"}` to anything else (sse-broker's `POST /publish`). Its arrival on the stream is the
 * definitive buffering test: heartbeats say a stream is alive, the probe says it is live. node:http, not
 * fetch: fetch's first call loads undici, which would count as delivery time.
 * @module
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

const PUBLISH_TIMEOUT_MS = 10_000;

export interface ProbeEvent {
  readonly url: URL;
  readonly token: string | undefined;
  readonly topic: string;
  /** Unique text the doctor looks for in the stream's events. */
  readonly marker: string;
}

/** Resolves with null when the hub accepted the event, or a one-line reason (never the token or URL). */
export function publishProbe(p: ProbeEvent): Promise<string | null> {
  const mercure = p.url.pathname.replace(/\/+$/, "").endsWith("/.well-known/mercure");
  const body = mercure
    ? new URLSearchParams({ topic: p.topic, data: p.marker }).toString()
    : JSON.stringify({ topic: p.topic, data: p.marker });
  const headers: Record<string, string> = {
    "Content-Type": mercure ? "application/x-www-form-urlencoded" : "application/json",
    "Content-Length": String(Buffer.byteLength(body)),
  };
  if (p.token !== undefined) headers.Authorization = `Bearer ${p.token}`;
  const send = p.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(p.url, { method: "POST", headers, agent: false, timeout: PUBLISH_TIMEOUT_MS });
    req.once("timeout", () => {
      req.destroy();
      resolve(`no answer from ${p.url.host} within ${PUBLISH_TIMEOUT_MS} ms`);
    });
    req.once("error", (err: NodeJS.ErrnoException) => {
      resolve(`cannot reach ${p.url.host}${err.code === undefined ? "" : ` (${err.code})`}`);
    });
    req.once("response", (res: IncomingMessage) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        if (text.length < 200) text += c;
      });
      res.once("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(null);
        const hint = status === 401 || status === 403 ? " (check --publish-token)" : "";
        const shown = text.slice(0, 200).replace(/\s+/g, " ").trim();
        resolve(`HTTP ${status}${hint}${shown === "" ? "" : `: ${shown}`}`);
      });
      res.once("error", () => resolve(`HTTP ${res.statusCode ?? 0}: the answer was cut short`));
    });
    req.end(body);
  });
}
