/**
 * The sse-broker CLI as a benchmarked server: `node --expose-gc --import tsx sse-broker-cli.ts <CLI flags>`
 * runs `src/cli/main.ts` in this very process, so the PID, CPU and RSS the harness reads are the CLI's,
 * with its defaults (logging, metrics, limits) unless a flag says otherwise. One IPC hook is added: a full
 * GC before the harness reads RSS (as for the other Node servers). `SSE_BENCH_CLI_MAIN` may point at
 * another checkout's `src/cli/main.ts` to compare two trees in one run.
 * @module
 */
import { pathToFileURL } from "node:url";

process.on("message", (m: { cmd?: string }) => {
  if (m.cmd === "gc") {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: "gc-done" });
  } else if (m.cmd === "exit") {
    // The CLI's own graceful shutdown (ends the streams, then exits 0).
    process.kill(process.pid, "SIGTERM");
  }
});
// The harness gone (crash, Ctrl-C): never linger.
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));

const main = process.env.SSE_BENCH_CLI_MAIN;
await import(main === undefined ? "../../src/cli/main.js" : pathToFileURL(main).href);
