/**
 * `/healthz` and `/metrics`: served by the main handler (metrics behind `metricsAccess`) and, with the
 * CLI's `--metrics-listen`, by a separate listener meant for an internal interface.
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { Broker } from "../core/broker.js";
import { SseBrokerError } from "../errors.js";
import { assertLocal, limitsOf } from "./limits.js";
import { methodNotAllowed, notFound, sendError, sendJson, sendText } from "./respond.js";

const startedAt = new WeakMap<Broker, number>();

/** Remembers when `broker` started serving (for `uptimeSeconds`). */
export function markStarted(broker: Broker): void {
  if (!startedAt.has(broker)) startedAt.set(broker, Date.now());
}

/** Whole seconds since `broker` started serving (0 before `markStarted`). */
export function uptimeSecondsOf(broker: Broker, now = Date.now()): number {
  return Math.round((now - (startedAt.get(broker) ?? now)) / 1000);
}

export function serveHealth(broker: Broker, res: ServerResponse, headers: Record<string, string> = {}): void {
  markStarted(broker);
  const ok = !broker.closed;
  sendJson(
    res,
    ok ? 200 : 503,
    {
      status: ok ? "ok" : "shutting-down",
      connections: broker.size,
      uptimeSeconds: uptimeSecondsOf(broker),
    },
    headers,
  );
}

export async function serveMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  const text = await registry.metrics();
  sendText(res, 200, text, { "Content-Type": registry.contentType });
}

/**
 * `/metrics` on the public listener: with `metricsToken`, `Authorization: Bearer <token>` (401
 * otherwise); without, the local-only rules (403 otherwise).
 */
export function assertMetricsAccess(broker: Broker, req: IncomingMessage): void {
  const token = broker.options.metricsToken;
  if (token === null) {
    assertLocal(broker, req, "GET /metrics without a metrics token", null);
    return;
  }
  const auth = req.headers.authorization ?? "";
  const given = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
  if (given === "" || !safeEqual(given, token)) {
    limitsOf(broker).refused.metrics_token++;
    throw new SseBrokerError("SSEB_ERR_AUTH_REQUIRED", "GET /metrics needs the metrics token", {
      statusCode: 401,
    });
  }
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The separate listener's handler: `/healthz` and `/metrics` only, no token (bind it to an internal interface). */
export function createOpsHandler(broker: Broker, registry: Registry | null) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    const method = req.method ?? "GET";
    if (path !== "/healthz" && (path !== "/metrics" || registry === null)) notFound(res);
    else if (method !== "GET" && method !== "HEAD") methodNotAllowed(res, "GET, HEAD");
    else if (path === "/healthz") serveHealth(broker, res);
    else serveMetrics(registry as Registry, res).catch((err: unknown) => sendError(res, err));
  };
}
