/**
 * Logs: one JSON object per line when stdout is not a terminal (see the other tests), human-readable
 * (pino-pretty) when it is. The terminal comes from util-linux `script`; the broker is stopped by
 * `timeout` inside it, so nothing outlives the test.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { cleanEnv, HOST, MAIN } from "./helpers.js";

const SCRIPT = "/usr/bin/script";

describe("logs on a terminal", () => {
  it("are human-readable, not JSON", { skip: !existsSync(SCRIPT) && "no `script` here" }, () => {
    const command = `timeout --preserve-status -s TERM 2 ${process.execPath} ${MAIN} --host ${HOST} --port 0`;
    const run = spawnSync(SCRIPT, ["-qec", command, "/dev/null"], {
      env: cleanEnv({ NO_COLOR: "1" }),
      encoding: "utf8",
      timeout: 10_000,
    });
    // The inner `timeout` sends SIGTERM after 2 s: a graceful stop, exit 0.
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const lines = run.stdout.split(/\r?\n/).filter((l) => l !== "");
    const listening = lines.find((l) => l.includes("Listening on http://127.0.0.1:"));
    assert.ok(listening !== undefined, run.stdout);
    assert.match(listening, /INFO/);
    assert.ok(!lines.some((l) => l.startsWith("{")), "no JSON lines");
    assert.ok(lines.some((l) => l.includes("Stopped")));
  });
});
