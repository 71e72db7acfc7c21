/**
 * The demo page in a real browser against the real broker process: live events, the connection state,
 * publishing from the page, and EventSource reconnecting by itself when the broker restarts.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { chromiumSkipReason, type LaunchedBrowser, launchChromium } from "../helpers/browser.js";
import { freePort, HOST } from "../helpers/net.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const skip = chromiumSkipReason();

const running = new Set<ChildProcess>();
// A failed test or a crash must not leave a broker behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

interface BrokerProcess {
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts the built CLI with the demo producer, as `npm start` does, and waits until it answers. */
async function startBroker(port: number): Promise<BrokerProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const args = [
    CLI,
    "--port",
    String(port),
    "--host",
    HOST,
    "--demo-interval-ms",
    "500",
    "--log-level",
    "warn",
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    }
    running.delete(child);
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      throw new Error(`broker exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
    }
    try {
      const res = await fetch(`http://${HOST}:${port}/healthz`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.ok) return { pid: child.pid, stop };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`broker did not answer /healthz within 15 s: ${stderr}`);
}

/**
 * A page predicate: the number shown in `selector` is at least `n`. A string, evaluated in the page, because
 * the test's TypeScript has no DOM types.
 */
const atLeast = (selector: string, n: number): string =>
  `Number(document.querySelector(${JSON.stringify(selector)})?.textContent) >= ${n}`;

/** Events received in total (the list itself is capped). */
const received = async (page: Page): Promise<number> => Number(await page.textContent("#count"));

describe("demo page in chromium", { skip, timeout: 55_000 }, () => {
  let port = 0;
  let broker: BrokerProcess | undefined;
  let browser: LaunchedBrowser | undefined;
  let page: Page;

  before(async () => {
    port = await freePort();
    // One after the other, so that `after` can stop whichever started when the other fails.
    broker = await startBroker(port);
    browser = await launchChromium();
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await broker?.stop();
  });

  it("shows the demo's events newest first with the connection open", async () => {
    await page.goto(`http://${HOST}:${port}/`);
    assert.equal(await page.title(), "sse-broker · live events");
    await page.waitForSelector('#state[data-state="open"]');
    assert.equal(await page.textContent("#ready-state"), "1 OPEN");
    await page.waitForSelector("#events li:nth-child(2)");

    const items = await page.$$eval("#events li", (lis) =>
      lis.map((li) => ({
        id: li.getAttribute("data-id"),
        message: li.querySelector(".message")?.textContent ?? "",
        raw: li.querySelector(".raw")?.textContent ?? "",
      })),
    );
    const [newest, previous] = items;
    assert.ok(newest !== undefined && previous !== undefined);
    for (const item of [newest, previous]) {
      assert.match(item.message, /^the time is \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} UTC$/);
      const data = JSON.parse(item.raw) as { timestamp: number; message: string };
      assert.equal(data.message, item.message);
      assert.ok(item.id, "events carry ids, so the browser can resume");
    }
    const ts = (raw: string): number => (JSON.parse(raw) as { timestamp: number }).timestamp;
    assert.ok(ts(newest.raw) >= ts(previous.raw), "newest first");
    assert.notEqual(newest.id, previous.id);

    // /healthz is polled every 2 s; the page's own stream counts.
    await page.waitForFunction(atLeast("#clients", 1));
  });

  it("shows the live number of subscribers of its topic (GET /presence)", async () => {
    const exactly = (n: number): string => `document.querySelector("#presence")?.textContent === "${n}"`;
    assert.equal(await page.textContent("#presence-topic"), "time");
    await page.waitForFunction(exactly(1)); // the page's own stream
    // Another subscriber of the topic joins, then leaves.
    const other = new AbortController();
    const res = await fetch(`http://${HOST}:${port}/events?topic=time`, { signal: other.signal });
    assert.equal(res.status, 200);
    await page.waitForFunction(exactly(2));
    other.abort();
    await res.body?.cancel().catch(() => {});
    await page.waitForFunction(exactly(1));
  });

  it("publishes from the form and shows the event", async () => {
    await page.fill("#pub-text", "hello from the page");
    await page.click("#publish-form button");
    await page.waitForSelector('#pub-result:text-matches("^published, id ")');
    await page.waitForSelector('#events li .message:text-is("hello from the page")');
  });

  it("reconnects by itself when the broker restarts on the same port", async () => {
    assert.ok(broker !== undefined);
    const before = await received(page);
    await broker.stop();
    await page.waitForSelector('#state:not([data-state="open"])');
    const lastId = await page.textContent("#last-id");
    assert.match(lastId ?? "", /^urn:uuid:/);
    // EventSource's own reconnection carries the last id it saw.
    const resumed = page.waitForRequest((r) => r.url().includes("/events?topic=time"), { timeout: 20_000 });
    broker = await startBroker(port);
    assert.equal(await (await resumed).headerValue("last-event-id"), lastId);

    await page.waitForSelector('#state[data-state="open"]', { timeout: 20_000 });
    // New events from the new process arrive on the reconnected stream.
    await page.waitForFunction(atLeast("#count", before + 2), undefined, { timeout: 10_000 });
    assert.ok(Number(await page.textContent("#errors")) >= 1, "the lost connection was reported");
    const log = await page.$$eval("#log li", (lis) => lis.map((li) => li.textContent ?? ""));
    assert.ok(
      log.some((l) => l.includes("error:")),
      `log shows the error: ${log.join(" | ")}`,
    );
  });

  it("switches the subscription to another topic", async () => {
    await page.fill("#topic", "chat");
    await page.click("#subscribe-form button");
    await page.waitForSelector('#stream-url:text-is("GET /events?topic=chat")');
    await page.waitForSelector('#state[data-state="open"]');
    const before = await received(page);
    await page.fill("#pub-topic", "chat");
    await page.fill("#pub-text", "only on chat");
    await page.click("#publish-form button");
    await page.waitForSelector('#events li:first-child .message:text-is("only on chat")');
    // The demo keeps publishing on "time" every 500 ms: wait until it did twice more (the broker's own
    // count), then send an end marker on "chat". Only the two chat messages may have arrived by then.
    const published = async (): Promise<number> => {
      const text = await (await fetch(`http://${HOST}:${port}/metrics`)).text();
      return Number(/^sse_broker_events_published_total (\d+)$/m.exec(text)?.[1]);
    };
    const atStart = await published();
    while ((await published()) < atStart + 2) await sleep(100);
    await page.fill("#pub-text", "end marker");
    await page.click("#publish-form button");
    await page.waitForSelector('#events li:first-child .message:text-is("end marker")');
    assert.equal(await received(page), before + 2);
  });

  it("shows a refused stream as closed and recovers on the next subscription", async () => {
    // An invalid URI template gets a 400, after which EventSource gives up (readyState CLOSED).
    await page.fill("#topic", "{bad");
    await page.click("#subscribe-form button");
    await page.waitForSelector('#state[data-state="closed"]');
    assert.equal(await page.textContent("#ready-state"), "2 CLOSED");
    await page.fill("#topic", "time");
    await page.click("#subscribe-form button");
    await page.waitForSelector('#state[data-state="open"]');
    const before = await received(page);
    await page.waitForFunction(atLeast("#count", before + 1));
  });
});
