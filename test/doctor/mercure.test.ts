/**
 * The doctor on a Mercure hub that requires a subscriber JWT: 401 without credentials (with the hint to
 * pass --header), healthy with `--header 'Authorization: Bearer …'`, and the probe event published as a
 * Mercure form with the publisher token from the environment. No token ever appears in the report.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { type CliProcess, cleanEnv, runCli, startCli } from "../cli/helpers.js";

const PUBLISHER_KEY = "doctor-publisher-secret-0123456789abcdef012";
const SUBSCRIBER_KEY = "doctor-subscriber-secret-0123456789abcdef01";
const TOPIC = "https://example.com/doctor/1";

const sign = (claims: Record<string, unknown>, key: string) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(key));

describe("sse-broker doctor on a Mercure hub", () => {
  let hub: CliProcess & { port: number };
  before(async () => {
    hub = await startCli(
      ["--no-demo", "--heartbeat-ms", "200"],
      cleanEnv({ MERCURE_PUBLISHER_JWT_KEY: PUBLISHER_KEY, MERCURE_SUBSCRIBER_JWT_KEY: SUBSCRIBER_KEY }),
    );
  });
  after(() => hub.kill());

  const url = () => `http://127.0.0.1:${hub.port}/.well-known/mercure?topic=${encodeURIComponent(TOPIC)}`;

  it("reports 401 with the hint to pass credentials (exit 1)", async () => {
    const r = await runCli(["doctor", url(), "--duration-ms", "800"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /PROBLEM status: HTTP 401: .*--header 'Authorization: Bearer/);
  });

  it("is healthy with the subscriber token in --header, and times a Mercure probe event", async () => {
    const subscriber = await sign({ mercure: { subscribe: ["*"] } }, SUBSCRIBER_KEY);
    const publisher = await sign({ mercure: { publish: ["*"] } }, PUBLISHER_KEY);
    const r = await runCli(
      [
        "doctor",
        url(),
        "--header",
        `Authorization: Bearer ${subscriber}`,
        "--duration-ms",
        "1500",
        "--publish",
        `http://127.0.0.1:${hub.port}/.well-known/mercure`,
        "--json",
      ],
      cleanEnv({ SSE_BROKER_DOCTOR_PUBLISH_TOKEN: publisher }),
      30_000,
    );
    const report = JSON.parse(r.stdout) as {
      exitCode: number;
      publish: { ok: boolean; arrivedMs: number | null } | null;
      findings: { id: string; severity: string }[];
    };
    assert.deepEqual(
      report.findings.filter((f) => f.severity === "problem"),
      [],
      JSON.stringify(report.findings),
    );
    assert.equal(r.code, 0);
    assert.equal(report.publish?.ok, true);
    assert.notEqual(report.publish?.arrivedMs, null);
    assert.ok(!r.stdout.includes(subscriber) && !r.stdout.includes(publisher), "no token in the report");
  });

  it("reports a refused probe publish (a wrong token) as a problem (exit 1)", async () => {
    const subscriber = await sign({ mercure: { subscribe: ["*"] } }, SUBSCRIBER_KEY);
    const r = await runCli([
      "doctor",
      url(),
      "--header",
      `Authorization: Bearer ${subscriber}`,
      "--duration-ms",
      "800",
      "--publish",
      `http://127.0.0.1:${hub.port}/.well-known/mercure`,
      "--publish-token",
      "not-a-jwt",
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /PROBLEM probe-publish: the probe event could not be published: HTTP 401 \(check --publish-token\)/,
    );
  });
});
