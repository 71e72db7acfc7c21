/**
 * Loopback networking helpers shared by the tests.
 */
import { once } from "node:events";
import { createServer } from "node:net";

export const HOST = "127.0.0.1";

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
