/**
 * At the file-descriptor limit the broker must still answer `/healthz` (issue 8, defect 16). The built
 * CLI runs with default options under a low open-file limit (`ulimit -n 300`); the test opens more
 * streams than that limit allows. Streams past the default cap (limit minus max(256, 5 %)) get 503 with
 * Retry-After, `/healthz` answers 200, and the admitted streams keep receiving events.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { after, describe, it } from "node:test";
import { defaultMaxConnections } from "../../src/http/fd-limit.js";
import { send } from "../helpers/http.js";
import { cleanEnv, HOST, MAIN } from "./helpers.js";

const FD_LIMIT = 300;
const ATTEMPTS = 320; // more streams than the process has file descriptors

interface Attempt {
  status: number;
  retryAfter: string | undefined;
  /** Resolves with the text received until the stream ends. */
  text(): string;
  close(): void;
}

function openStream(port: number): Promise<Attempt | "refused-at-accept"> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path: "/events?topic=a", agent: false });
    req.setTimeout(10_000, () => req.destroy());
    req.once("error", () => resolve("refused-at-accept"));
    req.once("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("error", () => {});
      req.on("error", () => {});
      resolve({
        status: res.statusCode ?? 0,
        retryAfter: res.headers["retry-after"],
        text: () => text,
        close: () => req.destroy(),
      });
    });
    req.end();
  });
}

describe("file-descriptor reserve", () => {
  const child = spawn(
    "sh",
    ["-c", `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, MAIN, "--port", "0", "--host", HOST],
    { env: cleanEnv({ SSE_BROKER_DEMO: "false" }), stdio: ["ignore", "pipe", "pipe"] },
  );
  after(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  });

  it("refuses streams past the cap with 503 while /healthz answers and streams keep flowing", async () => {
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (c: string) => {
        stderr += c;
      });
      child.stdout?.setEncoding("utf8").on("data", (c: string) => {
        stdout += c;
        const m = /"port":(\d+)[^\n]*"msg":"Listening on /.exec(stdout);
        if (m !== null) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`the CLI exited (${code}): ${stderr}`)));
    });
    const base = `http://${HOST}:${port}`;
    const attempts: (Attempt | "refused-at-accept")[] = [];
    try {
      for (let i = 0; i < ATTEMPTS; i++) attempts.push(await openStream(port));
      const open = attempts.filter((a): a is Attempt => a !== "refused-at-accept" && a.status === 200);
      const refused = attempts.filter((a): a is Attempt => a !== "refused-at-accept" && a.status === 503);
      assert.equal(open.length, defaultMaxConnections(FD_LIMIT), "streams admitted up to the default cap");
      assert.equal(refused.length, ATTEMPTS - open.length, "every other stream got a 503");
      for (const r of refused) assert.match(r.retryAfter ?? "", /^([1-9]|10)$/);

      const health = await send(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.json?.connections, open.length);
      const metrics = await send(`${base}/metrics`);
      assert.match(
        metrics.body,
        new RegExp(`^sse_broker_refused_total\\{reason="connections"\\} ${refused.length}$`, "m"),
      );
      const published = await send(`${base}/publish?topic=a`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "still serving",
      });
      assert.equal(published.status, 200);
      const deadline = Date.now() + 10_000;
      while (open.some((s) => !s.text().includes("data:still serving")) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(
        open.every((s) => s.text().includes("data:still serving")),
        "every admitted stream got the event",
      );
    } finally {
      for (const a of attempts) if (a !== "refused-at-accept") a.close();
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
