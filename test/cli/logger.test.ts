/**
 * The CLI's logger never writes a token: errors lose their URL-holding fields (Node's ERR_INVALID_URL keeps
 * the whole refused URL in `input`), and a refused request target leaves nothing of it in the logs.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { createLogger } from "../../src/cli/logger.js";
import { HOST, startCli } from "./helpers.js";

function recorded(): { lines: string[]; destination: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(s) } };
}

function invalidUrlError(): Error {
  try {
    new URL("http://h:99999/.well-known/mercure?topic=a&authorization=SECRET");
  } catch (err) {
    return err as Error;
  }
  throw new Error("URL did not throw");
}

describe("the CLI logger", () => {
  it("drops the input URL of ERR_INVALID_URL and url fields from logged errors, keeping the rest", () => {
    const { lines, destination } = recorded();
    const log = createLogger({ level: "debug", destination });
    const err = invalidUrlError();
    assert.match(String((err as { input?: string }).input), /SECRET/, "Node keeps the URL on the error");
    log.error({ err }, "request failed");
    const wrapped = Object.assign(new Error("outer", { cause: err }), { url: "/x?authorization=SECRET" });
    log.error({ err: wrapped }, "request failed");
    const nested = Object.assign(new Error("aggregate"), { inner: err });
    log.error({ err: nested }, "request failed");
    log.info({ req: { url: "/events?authorization=SECRET", method: "GET" } }, "request");
    assert.equal(lines.length, 4);
    for (const line of lines) assert.ok(!line.includes("SECRET"), line);
    const first = JSON.parse(lines[0] as string) as { err: { type: string; code: string; message: string } };
    assert.equal(first.err.type, "TypeError");
    assert.equal(first.err.code, "ERR_INVALID_URL");
    assert.match(first.err.message, /Invalid URL/);
  });
});

describe("the CLI serving a hub", () => {
  it("answers an absolute-form target with a bad port 400 and logs nothing of its token", async () => {
    const cli = await startCli(["--jwt-key", "k".repeat(32), "--anonymous", "--log-level", "debug"]);
    try {
      const socket = connect(cli.port, HOST);
      await once(socket, "connect");
      let text = "";
      socket.setEncoding("utf8").on("data", (d: string) => {
        text += d;
      });
      socket.write(
        "GET http://h:99999/.well-known/mercure?topic=a&authorization=SECRET HTTP/1.1\r\n" +
          "Host: h\r\nConnection: close\r\n\r\n",
      );
      await once(socket, "close");
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.ok(!text.includes("SECRET"));
      await cli.waitForLog((l) => l.msg === "request refused");
      for (const l of cli.logs) assert.ok(!JSON.stringify(l).includes("SECRET"), JSON.stringify(l));
      assert.ok(!cli.logs.some((l) => l.level >= 50), "no error line");
    } finally {
      cli.kill();
      await cli.exited;
    }
  });
});
