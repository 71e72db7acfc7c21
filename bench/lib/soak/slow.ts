/**
 * A slow consumer: a raw socket that subscribes to everything and then stops reading, so the broker's
 * output for it piles up (kernel socket buffers first, several MiB on loopback, then the broker's own
 * queue) until it passes `maxBufferedBytes` and the broker drops it. A dropped socket only shows its end
 * once read, so when `stallUntil` settles (the node's drop counter moved, the stall limit, or the end of
 * the run) it reads again: the end of the stream within `drainMs` means it was dropped.
 * @module
 */
import net from "node:net";

export type SlowOutcome = "dropped" | "kept" | "refused" | "error";

export interface SlowConsumerOptions {
  port: number;
  /** With a resume id (e.g. `earliest`), the broker also replays its history to it at once. */
  lastEventId?: string;
  /** Called once the stream is open and the socket paused; reading resumes when it settles. */
  stall: () => Promise<void>;
  drainMs: number;
}

export function runSlowConsumer(
  o: SlowConsumerOptions,
): Promise<{ outcome: SlowOutcome; bytes: number; stalledMs: number }> {
  return new Promise((resolve) => {
    const s = net.connect({ port: o.port, host: "127.0.0.1" });
    let head = "";
    let bytes = 0;
    let phase: "head" | "stalled" | "draining" = "head";
    let outcome: SlowOutcome = "error";
    let stalledAt = 0;
    let stalledMs = 0;
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
      stalledAt = performance.now();
      void o.stall().then(() => {
        if (s.destroyed) return;
        stalledMs = performance.now() - stalledAt;
        phase = "draining";
        outcome = "kept"; // unless the end arrives while draining
        timer = setTimeout(() => s.destroy(), o.drainMs);
        s.resume();
      });
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
      resolve({ outcome, bytes, stalledMs });
    });
  });
}
