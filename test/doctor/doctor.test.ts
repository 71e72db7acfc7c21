/**
 * `sse-broker doctor URL` run as the built CLI against a real broker (started with a short heartbeat),
 * directly and through real misbehaving proxies on 127.0.0.1: it must call a direct stream healthy (exit 0)
 * and name each proxy's fault with the right fix (exit 1).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliProcess, cleanEnv, runCli, startCli } from "../cli/helpers.js";
import {
  bufferingProxy,
  gzipProxy,
  headerDroppingProxy,
  idleTimeoutProxy,
  type TestProxy,
} from "./proxies.js";

const HEARTBEAT_MS = 200;

interface JsonReport {
  ok: boolean;
  exitCode: number;
  heartbeatMs: number | null;
  heartbeatSource: string | null;
  status: number | null;
  headers: Record<string, string>;
  comments: number;
  publish: { ok: boolean; atMs: number; arrivedMs: number | null } | null;
  end: { how: string };
  findings: { id: string; severity: string; message: string; fixes: { proxy: string; fix: string }[] }[];
}

async function doctor(
  args: readonly string[],
): Promise<{ code: number | null; report: JsonReport; stderr: string }> {
  const r = await runCli(["doctor", ...args, "--json"], undefined, 30_000);
  assert.equal(r.stderr, "", r.stderr);
  return { code: r.code, report: JSON.parse(r.stdout) as JsonReport, stderr: r.stderr };
}

function problems(report: JsonReport): string[] {
  return report.findings.filter((f) => f.severity === "problem").map((f) => f.id);
}

function fixFor(report: JsonReport, id: string, proxy: string): string {
  const f = report.findings.find((x) => x.id === id);
  assert.ok(f !== undefined, `no ${id} finding in ${JSON.stringify(report.findings)}`);
  return f.fixes.find((x) => x.proxy === proxy)?.fix ?? "";
}

describe("sse-broker doctor", () => {
  let broker: CliProcess & { port: number };
  const proxies: TestProxy[] = [];
  const stream = (port: number) => `http://127.0.0.1:${port}/events?topic=doctor`;

  before(async () => {
    broker = await startCli(["--no-demo", "--heartbeat-ms", String(HEARTBEAT_MS)]);
  });
  after(async () => {
    for (const p of proxies) await p.close();
    broker.kill();
  });

  it("calls a direct stream healthy, reads the advertised heartbeat and times a probe event (exit 0)", async () => {
    const { code, report } = await doctor([
      stream(broker.port),
      "--duration-ms",
      "1500",
      "--publish",
      `http://127.0.0.1:${broker.port}/publish`,
    ]);
    assert.deepEqual(problems(report), [], JSON.stringify(report.findings));
    assert.equal(code, 0);
    assert.equal(report.ok, true);
    assert.equal(report.status, 200);
    assert.equal(report.heartbeatMs, HEARTBEAT_MS);
    assert.equal(report.heartbeatSource, "header");
    assert.equal(report.headers["x-accel-buffering"], "no");
    assert.ok(report.comments >= 1, "heartbeats arrived");
    assert.equal(report.publish?.ok, true);
    assert.notEqual(report.publish?.arrivedMs, null, "the probe event arrived");
  });

  it("prints a readable healthy report without the URL's query values", async () => {
    const r = await runCli([
      "doctor",
      `${stream(broker.port)}&authorization=secret-token`,
      "--duration-ms",
      "800",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Healthy/);
    assert.match(r.stdout, /heartbeat +every 200 ms \(SSE-Broker-Heartbeat\)/);
    assert.ok(!r.stdout.includes("secret-token"), "no query value in the report");
  });

  it("reports a proxy holding the body (nothing arrives) as buffering with proxy_buffering off (exit 1)", async () => {
    const proxy = await bufferingProxy(broker.port, 64 * 1024);
    proxies.push(proxy);
    const { code, report } = await doctor([
      stream(proxy.port),
      "--duration-ms",
      "2500",
      "--publish",
      `http://127.0.0.1:${broker.port}/publish`,
    ]);
    assert.equal(code, 1);
    assert.ok(problems(report).includes("buffering"), JSON.stringify(report.findings));
    // The publish went straight to the broker; its event never came through the proxy.
    assert.ok(problems(report).includes("buffering-probe"), JSON.stringify(report.findings));
    assert.match(fixFor(report, "buffering", "nginx"), /proxy_buffering off/);
    assert.match(fixFor(report, "buffering", "Apache"), /flushpackets=on/);
  });

  it("reports heartbeats released in a burst after a silence as buffering (exit 1)", async () => {
    const proxy = await bufferingProxy(broker.port, 30); // ten 3-byte heartbeats: 2 s at 200 ms
    proxies.push(proxy);
    const { code, report } = await doctor([stream(proxy.port), "--duration-ms", "4000"]);
    assert.equal(code, 1);
    const f = report.findings.find((x) => x.id === "buffering");
    assert.ok(f !== undefined, JSON.stringify(report.findings));
    assert.match(f.message, /heartbeats arrived at once|in one piece/);
  });

  it("reports a gzip-compressing proxy as compression with gzip off (exit 1)", async () => {
    const proxy = await gzipProxy(broker.port);
    proxies.push(proxy);
    const { code, report } = await doctor([stream(proxy.port), "--duration-ms", "1500"]);
    assert.equal(code, 1);
    assert.deepEqual(problems(report), ["compression"], JSON.stringify(report.findings));
    assert.equal(report.headers["content-encoding"], "gzip");
    assert.ok(report.comments >= 1, "the gzipped heartbeats were decoded");
    assert.match(fixFor(report, "compression", "nginx"), /gzip off/);
    assert.match(fixFor(report, "compression", "HAProxy"), /compression type/);
  });

  it("reports a proxy cutting silent connections as an idle timeout shorter than the heartbeat (exit 1)", async () => {
    const slow = await startCli(["--no-demo", "--heartbeat-ms", "1000"]);
    try {
      const proxy = await idleTimeoutProxy(slow.port, 300);
      proxies.push(proxy);
      const { code, report } = await doctor([stream(proxy.port), "--duration-ms", "3000"]);
      assert.equal(code, 1);
      assert.ok(problems(report).includes("idle-timeout"), JSON.stringify(report.findings));
      const f = report.findings.find((x) => x.id === "idle-timeout");
      assert.match(f?.message ?? "", /shorter than the heartbeat \(1000 ms\)/);
      assert.notEqual(report.end.how, "duration");
      assert.match(fixFor(report, "idle-timeout", "nginx"), /proxy_read_timeout/);
      assert.match(fixFor(report, "idle-timeout", "AWS ALB"), /idle_timeout\.timeout_seconds/);
      assert.match(fixFor(report, "idle-timeout", "Cloudflare"), /100 s/);
    } finally {
      slow.kill();
    }
  });

  it("reports a non-200 answer with its status (exit 1)", async () => {
    const { code, report } = await doctor([
      `http://127.0.0.1:${broker.port}/nothing-here`,
      "--duration-ms",
      "800",
    ]);
    assert.equal(code, 1);
    assert.deepEqual(problems(report), ["status"]);
    assert.equal(report.status, 404);
  });

  it("reports a 200 answer that is not an event stream by its Content-Type only (exit 1)", async () => {
    const { code, report } = await doctor([
      `http://127.0.0.1:${broker.port}/healthz`,
      "--duration-ms",
      "800",
    ]);
    assert.equal(code, 1);
    assert.deepEqual(problems(report), ["content-type"], JSON.stringify(report.findings));
  });

  it("judges a hub that advertises no interval by --heartbeat-ms, and warns without it", async () => {
    const proxy = await headerDroppingProxy(broker.port, "SSE-Broker-Heartbeat");
    proxies.push(proxy);
    const told = await doctor([
      stream(proxy.port),
      "--heartbeat-ms",
      String(HEARTBEAT_MS),
      "--duration-ms",
      "1500",
    ]);
    assert.equal(told.code, 0, JSON.stringify(told.report.findings));
    assert.equal(told.report.heartbeatSource, "flag");
    assert.equal(told.report.heartbeatMs, HEARTBEAT_MS);
    const untold = await doctor([stream(proxy.port), "--duration-ms", "800"]);
    assert.equal(untold.code, 0);
    assert.equal(untold.report.heartbeatMs, null);
    assert.ok(untold.report.findings.some((f) => f.id === "heartbeat-unknown" && f.severity === "warning"));
  });

  it("notes a --heartbeat-ms that differs from what the broker advertises, and trusts the broker", async () => {
    const { report } = await doctor([stream(broker.port), "--heartbeat-ms", "5000", "--duration-ms", "800"]);
    assert.equal(report.heartbeatMs, HEARTBEAT_MS);
    assert.ok(report.findings.some((f) => f.id === "heartbeat-flag"));
  });
});

describe("sse-broker doctor usage errors (exit 2)", () => {
  it("refuses a non-http URL", async () => {
    const r = await runCli(["doctor", "ftp://127.0.0.1/events"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must be an http: or https: URL/);
  });

  it("needs a URL", async () => {
    const r = await runCli(["doctor"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /doctor needs the URL of a stream/);
  });

  it("says clearly that nothing listens there", async () => {
    const { freePort } = await import("../helpers/net.js");
    const port = await freePort();
    const r = await runCli(["doctor", `http://127.0.0.1:${port}/events?topic=x`, "--duration-ms", "1000"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /connection refused by 127\.0\.0\.1:\d+/);
  });

  it("refuses a malformed --header without echoing its value", async () => {
    const r = await runCli([
      "doctor",
      "http://127.0.0.1:1/x",
      "--header",
      "Authorization Bearer secret-value",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--header must look like 'Name: value'/);
    assert.ok(!r.stderr.includes("secret-value"));
  });

  it("refuses an out-of-range --duration-ms", async () => {
    const r = await runCli(["doctor", "http://127.0.0.1:1/x", "--duration-ms", "10"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--duration-ms must be an integer between 500 and 600000/);
  });

  it("prints its help (exit 0), and the main help names the subcommand", async () => {
    const r = await runCli(["doctor", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: sse-broker doctor URL/);
    assert.match(r.stdout, /--publish-token/);
    const main = await runCli(["--help"]);
    assert.match(main.stdout, /sse-broker doctor URL/);
  });
});

describe("sse-broker doctor over https", () => {
  let broker: CliProcess & { port: number };
  let proxy: TestProxy;
  let dir = "";

  before(async () => {
    broker = await startCli(["--no-demo", "--heartbeat-ms", String(HEARTBEAT_MS)]);
    dir = mkdtempSync(join(tmpdir(), "doctor-tls-"));
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"],
        ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=127.0.0.1"],
        ...["-addext", "subjectAltName=IP:127.0.0.1"],
      ],
      { stdio: "ignore" },
    );
    const tls = {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
    };
    proxy = await headerDroppingProxy(broker.port, "X-Nothing", tls);
  });
  after(async () => {
    await proxy?.close();
    broker?.kill();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("is healthy through a TLS proxy whose certificate is trusted via NODE_EXTRA_CA_CERTS", async () => {
    const url = `https://127.0.0.1:${proxy.port}/events?topic=doctor`;
    const r = await runCli(
      ["doctor", url, "--duration-ms", "1500", "--json"],
      cleanEnv({ NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") }),
      30_000,
    );
    const report = JSON.parse(r.stdout) as JsonReport;
    assert.deepEqual(problems(report), [], JSON.stringify(report.findings));
    assert.equal(r.code, 0);
    assert.equal(report.heartbeatMs, HEARTBEAT_MS);
  });

  it("exits 2 with a clear message when the certificate is not trusted", async () => {
    const r = await runCli([
      "doctor",
      `https://127.0.0.1:${proxy.port}/events?topic=doctor`,
      "--duration-ms",
      "1500",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /TLS with 127\.0\.0\.1:\d+ failed: .*NODE_EXTRA_CA_CERTS/);
  });
});
