/**
 * Fuzzing raw HTTP/1.1 against a real broker (node:http on 127.0.0.1, Mercure hub with anonymous
 * subscribers and the subscriptions API, a static publish token): whatever a client sends, the server never
 * answers 5xx, keeps serving (`/healthz`), keeps delivering to a subscriber opened before the run, and
 * leaves no session behind once the fuzzing connections are gone.
 *
 * Cases run in LANES concurrent fast-check runners; each case is one connection. `FUZZ_SEED=<n>` replays
 * a run (lane i uses seed n + i); a failure prints its lane's seed and the shrunk request's bytes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import fc from "fast-check";
import { type ExchangeResult, exchange } from "../helpers/raw-http.js";
import { waitFor } from "../helpers/redis-server.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import { token } from "../mercure/hub-fixture.js";
import { type FuzzCase, requestArbitraries } from "./http-arbitraries.js";

const PUBLISH_TOKEN = "fuzz-static-publish-token-0123456789";
const JWT_KEY = "fuzz-hub-jwt-key-at-least-256-bits-long-0123456789";
const LANES = 24;
const CASE_DEADLINE_MS = 2000;
/** A liveness bound, not a timing assertion: /healthz must answer at all while the fuzzer runs. */
const HEALTH_DEADLINE_MS = 5000;
const SEED =
  process.env.FUZZ_SEED === undefined
    ? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0
    : Number(process.env.FUZZ_SEED);

let srv: TestServer;
let port: number;
let canary: SseConnection;
let arbs: ReturnType<typeof requestArbitraries>;
const totals = { cases: 0, ms: 0 };

before(async () => {
  srv = await startServer({
    publishToken: PUBLISH_TOKEN,
    maxBodyBytes: 64 * 1024,
    mercure: { jwtKey: JWT_KEY, anonymous: true, subscriptions: true },
  });
  port = Number(new URL(srv.url).port);
  const now = Math.floor(Date.now() / 1000);
  arbs = requestArbitraries(port, {
    publishToken: PUBLISH_TOKEN,
    hubToken: await token({ publish: ["*"], subscribe: ["*"] }, JWT_KEY),
    expiredHubToken: await token({ publish: ["*"], subscribe: ["*"] }, JWT_KEY, { exp: now - 60 }),
    foreignToken: await token(
      { publish: ["*"], subscribe: ["*"] },
      "another-key-at-least-256-bits-long-abcdefgh",
    ),
  });
  canary = await connectSse(`${srv.url}/events?topic=fuzz-canary`);
  assert.equal(canary.status, 200);
});
after(async () => {
  canary?.close();
  await srv?.close();
});

interface Stats {
  cases: number;
  ends: Record<string, number>;
  statuses: Record<string, number>;
  timeouts: string[];
  /** A few distinct 5xx cases, to show beside the shrunk counterexample. */
  errors: string[];
}

const healthz = (): Promise<ExchangeResult> =>
  exchange(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, {
    deadlineMs: HEALTH_DEADLINE_MS,
  });

/** Probes /healthz back to back while `run` goes; returns the probes that did not answer 200. */
async function watchingHealth<T>(
  run: () => Promise<T>,
): Promise<{ result: T; hung: string[]; probes: number }> {
  let done = false;
  let probes = 0;
  const hung: string[] = [];
  const watchdog = (async () => {
    while (!done) {
      const r = await healthz();
      probes++;
      if (r.end !== "complete" || r.statuses[0] !== 200) hung.push(`${r.end} ${r.statuses.join(",")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    return { result: await run(), hung, probes };
  } finally {
    done = true;
    await watchdog;
  }
}

/** Sends one case and checks what every fuzz case must satisfy. */
async function check(c: FuzzCase, stats: Stats): Promise<void> {
  const r = await exchange(port, c.raw, {
    methods: c.methods,
    halfClose: c.halfClose,
    splitAt: c.splitAt,
    deadlineMs: CASE_DEADLINE_MS,
  });
  stats.cases++;
  stats.ends[r.end] = (stats.ends[r.end] ?? 0) + 1;
  r.statuses.forEach((s, i) => {
    const key = `${s}${r.codes[i] === null ? "" : ` ${r.codes[i]}`}`;
    stats.statuses[key] = (stats.statuses[key] ?? 0) + 1;
  });
  if (r.statuses.length === 0) stats.statuses.none = (stats.statuses.none ?? 0) + 1;
  if (r.end === "timeout" && stats.timeouts.length < 5)
    stats.timeouts.push(String(fc.stringify(c)).slice(0, 200));
  const errors = r.statuses.filter((s) => s >= 500);
  if (errors.length > 0 && stats.errors.length < 3) stats.errors.push(String(fc.stringify(c)).slice(0, 300));
  if (errors.length > 0)
    throw new Error(`server answered ${errors.join(", ")} (statuses: ${r.statuses.join(", ")})`);
  if (r.malformed !== null) throw new Error(`the answer is not HTTP: ${r.malformed}`);
}

/** Runs `numRuns` cases of `arb` over LANES concurrent fast-check runners, then reports and asserts. */
async function fuzz(
  t: TestContext,
  name: string,
  arb: fc.Arbitrary<FuzzCase>,
  numRuns: number,
): Promise<void> {
  const stats: Stats = { cases: 0, ends: {}, statuses: {}, timeouts: [], errors: [] };
  const perLane = Math.ceil(numRuns / LANES);
  const started = performance.now();
  const {
    result: lanes,
    hung,
    probes,
  } = await watchingHealth(() =>
    Promise.allSettled(
      Array.from({ length: LANES }, (_, lane) =>
        fc.assert(
          fc.asyncProperty(arb, (c) => check(c, stats)),
          { numRuns: perLane, seed: SEED + lane },
        ),
      ),
    ),
  );
  const ms = Math.round(performance.now() - started);
  // Diagnostic only (the last test asserts it): which property leaves sessions behind.
  await waitFor("sessions to settle", () => srv.broker.size === 1, 2000).catch(() => {});
  totals.cases += stats.cases;
  totals.ms += ms;
  t.diagnostic(
    `${name}: ${stats.cases} cases in ${ms} ms (seed ${SEED}, ${LANES} lanes); ends ${JSON.stringify(stats.ends)}`,
  );
  t.diagnostic(`${name}: statuses ${JSON.stringify(stats.statuses)}; /healthz probes ${probes}`);
  t.diagnostic(`${name}: sessions open after it: ${srv.broker.size} (the canary is 1)`);
  for (const x of stats.timeouts) t.diagnostic(`${name}: no complete answer in ${CASE_DEADLINE_MS} ms: ${x}`);
  for (const x of stats.errors) t.diagnostic(`${name}: 5xx for ${x}`);
  const failed = lanes.filter((l): l is PromiseRejectedResult => l.status === "rejected");
  if (failed.length > 0) {
    const first = failed[0]?.reason as Error;
    first.message = `${failed.length} of ${LANES} lanes failed; the first:\n${first.message}`;
    throw first;
  }
  assert.deepEqual(hung, [], "/healthz answered 200 throughout the run");
}

describe("raw HTTP fuzzing: never a 5xx, never a crash, the hub keeps serving", () => {
  it("origin-form requests: any method, path, query, header, body and framing", (t) =>
    fuzz(t, "origin-form", arbs.originForm, 5500));

  it("absolute-form and other odd request targets", (t) => fuzz(t, "odd-targets", arbs.oddTargets, 1000));

  it("publish bodies: JSON, forms, wrong types, binary, invalid UTF-8", (t) =>
    fuzz(t, "bodies", arbs.bodies, 2000));

  it("JSON nested up to ~6 000 deep", (t) => fuzz(t, "deep-json", arbs.deepJson, 250));

  it("truncated requests and input over every size limit", (t) =>
    fuzz(t, "truncated-oversized", arbs.truncatedOrOversized, 1000));

  it("pipelined requests, streams among them", (t) => fuzz(t, "pipelined", arbs.pipelined, 1000));

  it("still answers /healthz and delivers to the subscriber opened before the run", async (t) => {
    t.diagnostic(`all properties: ${totals.cases} cases in ${totals.ms} ms`);
    const health = await healthz();
    assert.equal(health.end, "complete");
    assert.deepEqual(health.statuses, [200]);
    const marker = `canary-${Date.now()}`;
    const res = await fetch(`${srv.url}/publish`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${PUBLISH_TOKEN}` },
      body: JSON.stringify({ topic: "fuzz-canary", data: marker }),
    });
    assert.equal(res.status, 200, await res.text());
    await waitFor("the canary's event", () => canary.events.some((e) => e.data === marker));
    assert.equal(canary.ended, false);
  });

  it("leaves only the canary's session open once every fuzz connection is closed", async (t) => {
    try {
      await waitFor("sessions to drop back to the canary alone", () => srv.broker.size === 1, 10_000);
    } finally {
      t.diagnostic(`open sessions: ${srv.broker.size} (the canary is 1)`);
    }
  });
});
