/**
 * The CLI flags reach the hooks: the standalone server (src/cli/server.ts, in process) started from
 * `--subscribe-hook-url` and `--disconnect-hook-url` asks and notifies a real backend; its shutdown sends
 * the last disconnects.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCli } from "../../src/cli/args.js";
import { createLogger } from "../../src/cli/logger.js";
import { startServer } from "../../src/cli/server.js";
import { HOST } from "../helpers/net.js";
import { connectSse } from "../helpers/sse-client.js";
import { json, startBackend } from "./backend.js";

describe("hooks from the command line", () => {
  it("asks the subscribe hook, and sends the disconnects at shutdown", async () => {
    const auth = await startBackend(json({ allow: false, status: 401, reason: "log in" }));
    const gone = await startBackend(json({}));
    const command = parseCli(
      [
        "--port=0",
        `--host=${HOST}`,
        "--no-demo",
        `--subscribe-hook-url=${auth.url}`,
        `--disconnect-hook-url=${gone.url}`,
        "--disconnect-hook-interval-ms=600000",
      ],
      {},
    );
    assert.equal(command.kind, "run");
    const { config } = command as Extract<typeof command, { kind: "run" }>;
    const server = await startServer({ config, logger: createLogger({ level: "silent" }) });
    try {
      const base = `http://${HOST}:${server.port}`;
      const denied = await connectSse(`${base}/events?topic=a`);
      assert.equal(denied.status, 401);
      auth.answer = json({ allow: true });
      const sse = await connectSse(`${base}/events?topic=b`, { headers: { Cookie: "sid=1" } });
      assert.equal(sse.status, 200);
      assert.equal(auth.calls[1]?.headers.cookie, "sid=1");
      await server.close();
      await sse.waitForEnd();
      assert.deepEqual(
        gone.calls.flatMap((c) =>
          (c.body as { selectors: string[]; reason: string }[]).map((e) => [e.selectors, e.reason]),
        ),
        [[["b"], "shutdown"]],
      );
    } finally {
      await server.close();
      await auth.close();
      await gone.close();
    }
  });
});
