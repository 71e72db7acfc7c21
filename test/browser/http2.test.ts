/**
 * HTTP/2 in Debian's Chromium: with --tls-cert/--tls-key one page holds 10 EventSources to the broker's
 * origin (HTTP/1.1 allows 6 connections per origin, so the last 4 would never open there), every one
 * receives a published event, and the page reports `h2` as its protocol (Performance API).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RunningServer } from "../../src/cli/server.js";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import {
  h2connect,
  h2publish,
  makeCert,
  noOpenssl,
  startTlsServer,
  type TestCert,
} from "../http2/helpers.js";

const skip = chromiumSkipReason() || noOpenssl;
const STREAMS = 10;

describe("HTTP/2 in chromium", { skip }, () => {
  let cert: TestCert;
  let server: RunningServer;
  let browser: LaunchedBrowser;
  before(async () => {
    cert = makeCert();
    server = await startTlsServer(cert);
    browser = await launchChromium({ ignoreHTTPSErrors: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    cert?.remove();
  });

  it(`opens ${STREAMS} EventSources on one page over h2 and each receives a published event`, async () => {
    const page = await browser.newPage();
    await page.goto(`https://127.0.0.1:${server.port}/healthz`);
    await page.evaluate((n) => {
      const w = globalThis as unknown as { __got: string[][]; __open: number };
      w.__got = [];
      w.__open = 0;
      for (let i = 0; i < n; i++) {
        const got: string[] = [];
        w.__got.push(got);
        const es = new EventSource(`/events?topic=page&n=${i}`);
        es.onopen = () => {
          w.__open++;
        };
        es.onmessage = (e) => got.push(e.data as string);
      }
    }, STREAMS);
    await page.waitForFunction((n) => (globalThis as unknown as { __open: number }).__open === n, STREAMS);
    assert.equal(server.broker.sessions.size, STREAMS);

    const session = await h2connect(server.port, cert);
    try {
      assert.equal((await h2publish(session, { topic: "page", data: "to every tab stream" })).status, 200);
    } finally {
      session.destroy();
    }
    await page.waitForFunction(
      () => (globalThis as unknown as { __got: string[][] }).__got.every((g) => g.length > 0),
      undefined,
    );
    const got = await page.evaluate(() => (globalThis as unknown as { __got: string[][] }).__got);
    assert.deepEqual(
      got,
      Array.from({ length: STREAMS }, () => ["to every tab stream"]),
    );

    // The page's own Navigation Timing entry (no DOM typings in this project).
    type Timing = { nextHopProtocol: string };
    const protocol = await page.evaluate(
      () =>
        (performance as unknown as { getEntriesByType(type: string): Timing[] }).getEntriesByType(
          "navigation",
        )[0]?.nextHopProtocol,
    );
    assert.equal(protocol, "h2");
    await page.close();
  });
});
