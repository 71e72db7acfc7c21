/**
 * A slow consumer: a raw socket that subscribes to everything and then stops reading, so the broker's
 * output for it piles up until it passes `maxBufferedBytes` and the broker drops it. A dropped socket only
 * shows its end once read, so after the stall it reads again: the end of the stream within `drainMs`
 * means it was dropped.
 * @module
 */
import net from "node:net";

export type SlowOutcome = "dropped" | "kept" | "refused" | "error";

export interface SlowConsumerOptions {
  port: number;
  /** With a resume id (e.g. `earliest`), the broker also replays its history to it at once. */
  lastEventId?: string;
  stallMs: number;
  drainMs: number;
}

export function runSlowConsumer(o: SlowConsumerOptions): Promise<{ outcome: SlowOutcome; bytes: number }> {
  return new Promise((resolve) => {
    const s = net.connect({ port: o.port, host: "127.0.0.1" });
    let head = "";
    let bytes = 0;
    let phase: "head" | "stalled" | "draining" = "head";
    let outcome: SlowOutcome = "error";
    let timer: NodeJS.Timeout | undefined = setTimeout(() => s.destroy(), 10_000);
    s.once("connect", () => {
      const resume = o.lastEventId === undefined ? "" : `Last-Event-ID: ${o.lastEventId}\r\n`;
      s.write(`GET /events?topic=*&topic=bulk HTTP/1.1\r\nHost: 127.0.0.1\r\n${resume}\r\n`);
    });
    s.on("data", (d: Buffer) => {
      bytes += d.length;
      if (phase !== "head") return;
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      if (!head.startsWith("HTTP/1.1 200")) {
        outcome = "refused";
        s.destroy();
        return;
      }
      phase = "stalled";
      s.pause();
      clearTimeout(timer);
      timer = setTimeout(() => {
        phase = "draining";
        outcome = "kept"; // unless the end arrives while draining
        timer = setTimeout(() => s.destroy(), o.drainMs);
        s.resume();
      }, o.stallMs);
    });
    s.on("end", () => {
      if (phase === "draining") outcome = "dropped";
      s.destroy();
    });
    s.on("error", () => {
      // a reset while draining is a drop too
      if (phase === "draining") outcome = "dropped";
    });
    s.once("close", () => {
      clearTimeout(timer);
      resolve({ outcome, bytes });
    });
  });
}
