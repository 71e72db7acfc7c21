/**
 * Static files: a fixed set loaded at start; requests for other paths never grow memory.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createBroker } from "../../src/index.js";
import { startServer } from "../helpers/server.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function get(url: string, agent: Agent): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { Accept: "text/html" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers["content-type"]) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("static files", () => {
  it("do not grow the heap for 20 000 random missing paths, and the page still serves", async () => {
    const srv = await startServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      assert.equal((await get(`${srv.url}/nope.html`, agent)).status, 404);
      gc();
      const before = process.memoryUsage().heapUsed;
      const long = "x".repeat(4000); // long paths, as an attacker would send
      for (let i = 0; i < 20_000; i += 50) {
        const batch = Array.from({ length: 50 }, (_, j) =>
          get(`${srv.url}/${Math.random().toString(36).slice(2)}${long}${i + j}.html`, agent),
        );
        for (const r of await Promise.all(batch)) assert.equal(r.status, 404);
      }
      gc();
      const growthMb = (process.memoryUsage().heapUsed - before) / (1024 * 1024);
      assert.ok(growthMb < 16, `heap grew by ${growthMb.toFixed(1)} MB`);
      const page = await get(`${srv.url}/`, agent);
      assert.equal(page.status, 200);
      assert.match(page.type, /^text\/html/);
      assert.match(page.body, /EventSource/);
    } finally {
      agent.destroy();
      await srv.close();
    }
  });

  it("serves the files loaded at start only: one subfolder level, known types, no dotfiles or links", async () => {
    const root = mkdtempSync(join(tmpdir(), "sseb-web-"));
    dirs.push(root);
    writeFileSync(join(root, "index.html"), "<p>home</p>");
    writeFileSync(join(root, ".secret.html"), "hidden");
    writeFileSync(join(root, "notes.txt"), "unknown type");
    mkdirSync(join(root, "assets"));
    writeFileSync(join(root, "assets", "app.js"), "console.log(1)");
    mkdirSync(join(root, "assets", "deep"));
    writeFileSync(join(root, "assets", "deep", "x.js"), "too deep");
    symlinkSync(join(root, "index.html"), join(root, "link.html"));
    const srv = await startServer({ webRoot: root });
    const agent = new Agent({ keepAlive: false });
    try {
      const status = async (p: string): Promise<number> => (await get(`${srv.url}${p}`, agent)).status;
      assert.equal(await status("/"), 200);
      assert.equal(await status("/assets/app.js"), 200);
      for (const p of [
        "/.secret.html",
        "/notes.txt",
        "/assets/deep/x.js",
        "/link.html",
        "/assets/../index.html",
      ]) {
        assert.equal(await status(p), p === "/assets/../index.html" ? 200 : 404, p); // URL parsing removes ../
      }
      // Written after start: not served (nothing is read from disk per request).
      writeFileSync(join(root, "late.html"), "late");
      assert.equal(await status("/late.html"), 404);
    } finally {
      await srv.close();
    }
  });

  it("refuses a web root that cannot be read, at start", () => {
    assert.throws(() => createBroker({ webRoot: join(tmpdir(), "sseb-no-such-dir", "x") }), {
      code: "SSEB_ERR_OPTIONS_INVALID",
    });
  });
});
