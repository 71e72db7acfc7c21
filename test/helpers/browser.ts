/**
 * Debian's chromium driven by playwright-core, for browser tests. Each launch gets a fresh user data dir
 * (removed on close) and the flags that keep Chromium off the network: this closed network refuses every
 * outside host, and Chromium would otherwise keep trying them.
 *
 * @example
 * const skip = chromiumSkipReason();
 * it("…", { skip }, async () => {
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 *   …
 *   await browser.close();
 * });
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox", // tests run as root, where the sandbox refuses to start
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A message for `it(…, { skip })` when chromium is not installed, else `false`. */
export function chromiumSkipReason(): string | false {
  return existsSync(CHROMIUM_PATH)
    ? false
    : `${CHROMIUM_PATH} not found: install Debian's chromium (apt-get install -y chromium) to run browser tests`;
}

export interface LaunchedBrowser {
  readonly context: BrowserContext;
  /** A new tab. */
  newPage(): Promise<Page>;
  /** Closes chromium and removes its user data dir. Safe to call more than once. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Playwright's default timeout for page actions and waits. Defaults to `10_000`. */
  timeoutMs?: number;
  /** Accept any certificate (a test's self-signed one). Defaults to `false`. */
  ignoreHTTPSErrors?: boolean;
}

export async function launchChromium(options: LaunchOptions = {}): Promise<LaunchedBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), "sse-broker-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
      ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(options.timeoutMs ?? 10_000);
  let closed: Promise<void> | undefined;
  return {
    context,
    newPage: () => context.newPage(),
    close() {
      closed ??= context
        .close()
        .catch(() => {})
        .then(() => rm(userDataDir, { recursive: true, force: true }));
      return closed;
    },
  };
}
