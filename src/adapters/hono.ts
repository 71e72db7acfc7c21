/**
 * Hono adapter for `@hono/node-server`: `app.all("/events", honoSseBroker(broker))`, or
 * `mountSseBroker(app, broker)` for every broker path; a sub-app mounted with `app.route("/sse", sub)`
 * hands the broker the path below `/sse`. The broker writes to Node's own response (`c.env.outgoing`) and
 * Hono is told the response was already sent.
 * @module
 */
import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, Hono } from "hono";
import { basePath } from "hono/route";
import type { RequestHandler } from "../http/handler.js";
import { relativeToMount } from "./mount.js";
import { BROKER_PATHS } from "./paths.js";

type NodeContext = Context<{ Bindings: HttpBindings }>;

export function honoSseBroker(broker: { handler: RequestHandler }): (c: NodeContext) => Response {
  return (c) => {
    relativeToMount(c.env.incoming, basePath(c));
    broker.handler(c.env.incoming, c.env.outgoing);
    return RESPONSE_ALREADY_SENT;
  };
}

/** Routes every broker path (see BROKER_PATHS) of `app` to the broker. */
export function mountSseBroker(
  // biome-ignore lint/suspicious/noExplicitAny: any app whose bindings include Node's (HttpBindings)
  app: Hono<{ Bindings: HttpBindings } & any>,
  broker: { handler: RequestHandler },
  paths: readonly string[] = BROKER_PATHS,
): void {
  const h = honoSseBroker(broker);
  for (const p of paths) app.all(p, h);
}
