/**
 * Issue 8, defect 15: a publish whose body never finishes (the client leaves mid-upload) is the client's
 * doing: no error-level log line, no 500, and the hub keeps serving.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.js";
import { recordingLogger, waitFor } from "../helpers/wait.js";

const log = recordingLogger();
let srv: TestServer;
before(async () => {
  srv = await startServer({ logger: log });
});
after(() => srv.close());

describe("an upload cut short", () => {
  it("is logged as a refused request, not a server error", async () => {
    const port = Number(new URL(srv.url).port);
    for (const type of ["application/json", "text/plain"]) {
      const s = connect(port, "127.0.0.1");
      await once(s, "connect");
      s.write(
        `POST /publish?topic=a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: 1000\r\n\r\n{"topic":`,
      );
      s.destroy();
      await once(s, "close");
    }
    await waitFor(
      "both refusals logged",
      () => log.lines.filter((l) => l.msg === "request refused").length >= 2,
    );
    assert.deepEqual(
      log.lines.filter((l) => l.level === "error").map((l) => l.msg),
      [],
      "no error-level line",
    );
    assert.ok(log.lines.some((l) => (l.obj as { code?: string }).code === "SSEB_ERR_REQUEST_ABORTED"));
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  });
});
