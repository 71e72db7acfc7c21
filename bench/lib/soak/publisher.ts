/**
 * The soak's steady publisher: `POST /publish` over HTTP to the nodes in turn, ONE request at a time, so
 * that attempt ids follow the stream's order and each attempt is settled before the next is sent (what
 * the ledger's loss accounting relies on). A 503 (Redis down) is retried with a new attempt id after a
 * short pause; an event counts as accepted only on a 200 that echoes its id.
 * @module
 */
import http from "node:http";
import { Histogram } from "../histogram.js";
import { ACCEPTED, FAILED, type Ledger, REFUSED, type TopicMask } from "./ledger.js";

export interface PublisherOptions {
  ports: readonly number[];
  token: string;
  ledger: Ledger;
  /** Logical events per second (retries do not count). */
  rate: number;
  /** Request timeout: longer means the node is stuck. */
  timeoutMs?: number;
}

export interface PublishEvent {
  topics: readonly string[];
  mask: TopicMask;
  data: string;
}

export interface PublisherStats {
  attempts: number;
  accepted: number;
  /** Answers 503 (Redis down), each retried. */
  refused: number;
  /** Other answers (4xx, 5xx but 503), timeouts and connection errors. */
  failed: number;
  failures: Record<string, number>;
  /** Logical events dropped from the schedule because the publisher fell more than 1 s behind. */
  skipped: number;
  /** Accepted publishes: request sent → 200 received. */
  latency: Histogram;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Publisher {
  readonly stats: PublisherStats = {
    attempts: 0,
    accepted: 0,
    refused: 0,
    failed: 0,
    failures: {},
    skipped: 0,
    latency: new Histogram(),
  };
  readonly #o: PublisherOptions;
  readonly #agents: http.Agent[];
  #turn = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(o: PublisherOptions) {
    this.#o = o;
    this.#agents = o.ports.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  }

  /** Publishes `next()` at the configured rate until `stop()`; resolves when the loop has ended. */
  start(next: () => PublishEvent): void {
    this.#loop = (async () => {
      const interval = 1000 / this.#o.rate;
      let due = performance.now();
      while (!this.#stopped) {
        const now = performance.now();
        if (now < due) await sleep(due - now);
        if (this.#stopped) break;
        if (performance.now() - due > 1000) {
          const missed = Math.floor((performance.now() - due) / interval);
          this.stats.skipped += missed;
          due += missed * interval;
        }
        due += interval;
        await this.publish(next(), () => this.#stopped);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** Publishes one event, retrying until it is accepted or `giveUp()` says so. Returns the accepted id. */
  async publish(ev: PublishEvent, giveUp: () => boolean = () => false): Promise<number | null> {
    for (;;) {
      const id = this.#o.ledger.begin(ev.mask);
      const node = this.#turn++ % this.#o.ports.length;
      const t0 = performance.now();
      const r = await this.#post(node, id, ev);
      this.stats.attempts++;
      if (r.status === 200 && r.id === String(id)) {
        this.#o.ledger.settle(id, ACCEPTED);
        this.stats.accepted++;
        this.stats.latency.record(performance.now() - t0);
        return id;
      }
      if (r.status === 503) {
        this.#o.ledger.settle(id, REFUSED);
        this.stats.refused++;
      } else {
        this.#o.ledger.settle(id, FAILED);
        this.stats.failed++;
        const why =
          r.status === 200
            ? "200 without its id"
            : r.status === 0
              ? (r.error ?? "no answer")
              : `HTTP ${r.status}`;
        this.stats.failures[why] = (this.stats.failures[why] ?? 0) + 1;
      }
      if (giveUp()) return null;
      await sleep(r.status === 503 ? 200 : 500);
    }
  }

  #post(
    node: number,
    id: number,
    ev: PublishEvent,
  ): Promise<{ status: number; id?: string; error?: string }> {
    const body = JSON.stringify({ topic: ev.topics, id: String(id), data: ev.data });
    return new Promise((resolve) => {
      const req = http.request({
        host: "127.0.0.1",
        port: this.#o.ports[node],
        path: "/publish",
        method: "POST",
        agent: this.#agents[node],
        timeout: this.#o.timeoutMs ?? 10_000,
        headers: {
          Authorization: `Bearer ${this.#o.token}`,
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
        },
      });
      req.once("timeout", () => req.destroy(new Error("timeout")));
      req.once("error", (err) =>
        resolve({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }),
      );
      req.once("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.once("end", () => {
          let got: string | undefined;
          try {
            got = (JSON.parse(text) as { id?: string }).id;
          } catch {
            // not JSON: reported as a failure below
          }
          resolve({ status: res.statusCode ?? 0, ...(got === undefined ? {} : { id: got }) });
        });
        res.once("error", () => resolve({ status: 0, error: "response aborted" }));
      });
      req.end(body);
    });
  }

  close(): void {
    for (const a of this.#agents) a.destroy();
  }
}
