/**
 * A broker mounted under a prefix (`/sse`) routes on the path below it, as Express does for
 * `app.use("/sse", broker.handler)`: `req.url` becomes the rest and `req.originalUrl` keeps the whole.
 * @module
 */
import type { IncomingMessage } from "node:http";

/** Makes `req.url` relative to `prefix` when it lies under it; leaves it as it is otherwise. */
export function relativeToMount(req: IncomingMessage, prefix: string): void {
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  const url = req.url ?? "/";
  if (base === "" || !url.startsWith(base)) return;
  const rest = url.slice(base.length);
  // "/ssex" is not under "/sse".
  if (rest !== "" && rest[0] !== "/" && rest[0] !== "?") return;
  const r = req as IncomingMessage & { originalUrl?: string };
  r.originalUrl ??= url;
  r.url = rest.startsWith("/") ? rest : `/${rest}`;
}
