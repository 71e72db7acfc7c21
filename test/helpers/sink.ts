/**
 * An in-memory subscriber sink that records what the broker writes, as a socket would receive it.
 */
import { PassThrough } from "node:stream";

export interface RecordingSink {
  readonly sink: PassThrough;
  text(): string;
  /** Occurrences of `s` in what was received. */
  count(s: string): number;
}

export function reader(): RecordingSink {
  const sink = new PassThrough();
  let out = "";
  sink.on("data", (c: Buffer) => {
    out += c.toString("utf8");
  });
  return { sink, text: () => out, count: (s) => out.split(s).length - 1 };
}
