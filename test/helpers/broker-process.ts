/**
 * Runs test/fixtures/broker-server.ts in a child process and reads its memory from /proc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../fixtures/broker-server.ts", import.meta.url));

export interface BrokerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resident set size of the broker process, in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

export async function startBrokerProcess(options: Record<string, unknown> = {}): Promise<BrokerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
    env: { ...process.env, BROKER_OPTIONS: JSON.stringify(options) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("broker process did not start in 15 s")), 15_000);
    child.once("exit", (code) => reject(new Error(`broker process exited with ${code}`)));
    child.stdout?.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(JSON.parse(chunk.toString("utf8").split("\n")[0] ?? "{}").port as number);
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kb * 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await once(child, "exit");
      clearTimeout(timer);
    },
  };
}
