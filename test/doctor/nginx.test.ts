/**
 * The doctor against real nginx (when installed) in front of a real broker: nginx honouring the broker's
 * X-Accel-Buffering: no is healthy (it only consumes the header: a warning), nginx told to ignore it
 * buffers, and nginx gzipping text/event-stream compresses. nginx runs from a temp dir with its own
 * config and pid file, one process, on a free loopback port, and is stopped by its PID.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliProcess, freePort, runCli, startCli } from "../cli/helpers.js";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
const skip = NGINX === undefined ? "nginx is not installed (apt-get install nginx-light)" : false;

interface JsonReport {
  exitCode: number;
  headers: Record<string, string>;
  findings: { id: string; severity: string }[];
}

async function doctor(url: string): Promise<{ code: number | null; report: JsonReport }> {
  const r = await runCli(["doctor", url, "--duration-ms", "2500", "--json"], undefined, 30_000);
  return { code: r.code, report: JSON.parse(r.stdout) as JsonReport };
}

const problems = (r: JsonReport) => r.findings.filter((f) => f.severity === "problem").map((f) => f.id);

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("sse-broker doctor through real nginx", { skip }, () => {
  let broker: CliProcess & { port: number };
  let nginx: ChildProcess | undefined;
  let dir = "";
  let port = 0;

  before(async () => {
    broker = await startCli(["--no-demo", "--heartbeat-ms", "200"]);
    dir = mkdtempSync(join(tmpdir(), "doctor-nginx-"));
    port = await freePort();
    const upstream = `http://127.0.0.1:${broker.port}/`;
    writeFileSync(
      join(dir, "nginx.conf"),
      `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /honours/ {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_buffering on;
    }
    # The block docs/doctor.md recommends.
    location /recommended/ {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_buffering off;
      proxy_cache off;
      gzip off;
      proxy_read_timeout 1h;
    }
    location /buffers/ {
      proxy_pass ${upstream};
      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
    }
    location /gzips/ {
      proxy_pass ${upstream};
      proxy_buffering off;
      gzip on;
      gzip_types text/event-stream;
      gzip_min_length 1;
    }
  }
}
`,
    );
    nginx = spawn(NGINX as string, ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")], {
      stdio: "ignore",
    });
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (nginx.exitCode !== null || Date.now() > deadline) {
        const log = existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "";
        throw new Error(`nginx did not start: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    if (nginx?.pid !== undefined && nginx.exitCode === null) {
      process.kill(nginx.pid, "SIGTERM");
      await once(nginx, "exit");
    }
    broker?.kill();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("is healthy through nginx honouring X-Accel-Buffering: no (which nginx does not pass on)", async () => {
    const { code, report } = await doctor(`http://127.0.0.1:${port}/honours/events?topic=n`);
    assert.deepEqual(problems(report), [], JSON.stringify(report.findings));
    assert.equal(code, 0);
    assert.equal(report.headers["x-accel-buffering"], undefined);
    assert.ok(report.findings.some((f) => f.id === "x-accel-buffering" && f.severity === "warning"));
  });

  it("is healthy through the nginx location docs/doctor.md recommends", async () => {
    const { code, report } = await doctor(`http://127.0.0.1:${port}/recommended/events?topic=n`);
    assert.deepEqual(problems(report), [], JSON.stringify(report.findings));
    assert.equal(code, 0);
  });

  it("finds the buffering of nginx told to ignore X-Accel-Buffering (exit 1)", async () => {
    const { code, report } = await doctor(`http://127.0.0.1:${port}/buffers/events?topic=n`);
    assert.equal(code, 1);
    assert.ok(problems(report).includes("buffering"), JSON.stringify(report.findings));
  });

  it("finds the compression of nginx gzipping text/event-stream (exit 1)", async () => {
    const { code, report } = await doctor(`http://127.0.0.1:${port}/gzips/events?topic=n`);
    assert.equal(code, 1);
    assert.equal(report.headers["content-encoding"], "gzip");
    assert.ok(problems(report).includes("compression"), JSON.stringify(report.findings));
  });
});
