/**
 * Fastify adapter: `app.register(fastifySseBroker(broker))`, or under a prefix with
 * `app.register(fastifySseBroker(broker), { prefix: "/sse" })`. The plugin is encapsulated and replaces the
 * body parsers by a no-op one, so the broker reads publish bodies itself (with its own limits), then takes
 * the raw request/response with `reply.hijack()`, its URL made relative to the prefix. Only fastify's
 * types are imported.
 * @module
 */
import type { FastifyPluginAsync } from "fastify";
import type { RequestHandler } from "../http/handler.js";
import { relativeToMount } from "./mount.js";
import { BROKER_PATHS } from "./paths.js";

export interface FastifyAdapterOptions {
  /** Paths to route to the broker. Defaults to `/events`, `/publish`, `/healthz`, `/metrics` and the Mercure hub. */
  paths?: readonly string[];
}

export function fastifySseBroker(
  broker: { handler: RequestHandler },
  options: FastifyAdapterOptions = {},
): FastifyPluginAsync {
  return async (app) => {
    const prefix = app.prefix;
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_req, _payload, done) => done(null));
    for (const url of options.paths ?? BROKER_PATHS) {
      app.route({
        method: ["GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"],
        url,
        handler(req, reply) {
          reply.hijack();
          relativeToMount(req.raw, prefix);
          broker.handler(req.raw, reply.raw);
        },
      });
    }
  };
}
