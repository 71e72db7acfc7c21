/**
 * How much the load generator itself can take: `npm run bench:load-check -- [--connections 100]
 * [--frames-per-write 64] [--seconds 5] [--load-client c|node]`. A producer process on core 0 (plain
 * `node:net`, no SSE server) writes pre-built batches of small frames (`data: {"t":…,"seq":…}`, ~190 B)
 * to every connection as fast as they drain; the load client on core 1 counts them, parses `t` and `seq`
 * like in the comparison. Prints frames/s, the client's CPU and `seq` gaps (which must be 0). The C client
 * should take well over 1 M frames/s on one core when frames arrive batched.
 * @module
 */
import { execFileSync } from "node:child_process";

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LoadFleet, type LoadKind } from "./lib/load.js";
import { cpuSeconds, hasTaskset, pinProcess } from "./lib/proc.js";
import { killAll, spawnNode, stop } from "./lib/procs.js";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "100" },
    "frames-per-write": { type: "string", default: "64" },
    seconds: { type: "string", default: "5" },
    "load-client": { type: "string", default: "c" },
    producer: { type: "boolean", default: false },
  },
});

/** The producer side (this file run with --producer): a TCP server streaming batches of frames. */
async function producer(): Promise<void> {
  const net = await import("node:net");
  const { realtimeClock } = await import("./lib/clock.js");
  const now = realtimeClock();
  const perWrite = Number(values["frames-per-write"]);
  const pad = "x".repeat(120);
  const socks: { s: import("node:net").Socket; seq: number }[] = [];
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.once("data", () => {
      s.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
      const c = { s, seq: 0 };
      socks.push(c);
      s.on("drain", () => fill(c));
      s.on("error", () => {});
      fill(c);
    });
  });
  const fill = (c: { s: import("node:net").Socket; seq: number }) => {
    while (c.s.writable && c.s.writableLength < 256 * 1024) {
      const t = now().toFixed(3);
      let chunk = "";
      for (let i = 0; i < perWrite; i++) chunk += `data: {"t":${t},"seq":${++c.seq},"msg":"${pad}"}\n\n`;
      if (!c.s.write(chunk)) break;
    }
  };
  server.listen(0, "127.0.0.1", () => {
    const a = server.address();
    process.send?.({ type: "ready", port: typeof a === "object" && a !== null ? a.port : 0 });
  });
  process.on("message", (m: { cmd?: string }) => {
    if (m.cmd === "exit") process.exit(0);
  });
  process.on("disconnect", () => process.exit(0));
}

async function main(): Promise<void> {
  if (!hasTaskset()) throw new Error("taskset (util-linux) is required");
  pinProcess(process.pid, 1);
  const prod = spawnNode("producer", 0, ["--import", "tsx"], fileURLToPath(import.meta.url), [
    "--producer",
    "--frames-per-write",
    String(values["frames-per-write"]),
  ]);
  const fleet = await LoadFleet.start(values["load-client"] as LoadKind, 1, 1);
  try {
    const { port } = await prod.next<{ port: number }>("ready", 30_000);
    const n = Number(values.connections);
    const c = await fleet.connect({ port, path: "/", count: n });
    if (c.live < n) throw new Error(`only ${c.live}/${n} connected`);
    await new Promise((r) => setTimeout(r, 1000));
    await fleet.start();
    const c0 = fleet.cpuSeconds();
    const p0 = cpuSeconds(prod.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
    const w = await fleet.stop();
    const wall = (performance.now() - t0) / 1000;
    const cpu = (fleet.cpuSeconds() - c0) / wall;
    const fps = w.frames / wall;
    console.log(
      JSON.stringify(
        {
          loadClient: values["load-client"],
          connections: n,
          framesPerWrite: Number(values["frames-per-write"]),
          framesPerSecond: Math.round(fps),
          mbPerSecond: Math.round(w.bytes / wall / 1e6),
          clientCpuPct: Math.round(cpu * 100),
          framesPerClientCpuSecond: Math.round(w.frames / (cpu * wall)),
          producerCpuPct: Math.round(((cpuSeconds(prod.pid) - p0) / wall) * 100),
          framesPerRead: w.reads === undefined ? null : Math.round((w.frames / w.reads) * 10) / 10,
          lost: w.lost ?? null,
          reordered: w.reordered ?? null,
          kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
        },
        null,
        2,
      ),
    );
  } finally {
    await fleet.exit();
    await stop(prod);
  }
}

if (values.producer === true) void producer();
else {
  const bound = setTimeout(() => {
    killAll();
    process.exit(2);
  }, 120_000);
  bound.unref();
  process.on("SIGINT", () => {
    killAll();
    process.exit(130);
  });
  main().then(
    () => {
      killAll();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      killAll();
      process.exit(1);
    },
  );
}
