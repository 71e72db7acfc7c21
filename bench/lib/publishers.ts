/**
 * The publisher process of a scenario, on the load core: the C load generator in its publisher role (the
 * default: a few µs of CPU per publish) or the Node one (bench/lib/publisher.ts, `--publisher node`).
 * Both send one POST at a time on a keep-alive connection (or `depth` in flight), paced at the asked
 * rate, and answer `mark` with the period's counts and answer latency.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildLoadGenerator } from "./c-load.js";
import { type Proc, spawnLines, spawnNode, stop } from "./procs.js";
import type { BodyKind, PublisherMark } from "./publisher.js";

export type PublisherKind = "c" | "node";

export interface Publisher {
  readonly proc: Proc;
  publish(rate: number, payloadBytes: number, depth: number): Promise<void>;
  pause(): Promise<void>;
  /** Counts and answer latency since the previous mark (the first mark starts the count). */
  mark(): Promise<PublisherMark>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function startPublisher(
  kind: PublisherKind,
  core: number,
  url: string,
  body: BodyKind,
): Promise<Publisher> {
  const target = new URL(url);
  const proc =
    kind === "c"
      ? spawnLines("publisher", core, buildLoadGenerator())
      : spawnNode("publisher", core, ["--import", "tsx"], join(here, "publisher.ts"), [url, body]);
  await proc.next("ready", 30_000);
  return {
    proc,
    async publish(rate, payloadBytes, depth) {
      await proc.request(
        {
          cmd: "publish",
          host: target.hostname,
          port: Number(target.port),
          path: target.pathname,
          body,
          rate,
          payloadBytes,
          depth,
        },
        "publishing",
      );
    },
    async pause() {
      await proc.request({ cmd: "pause" }, "paused");
    },
    mark: () => proc.request<PublisherMark>({ cmd: "mark" }, "mark"),
    stop: () => stop(proc),
  };
}
