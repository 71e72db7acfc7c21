/**
 * `sse-broker doctor --help`, generated from the doctor's option table.
 * @module
 */
import { DOCTOR_OPTIONS } from "./args.js";

export function doctorHelpText(): string {
  const rows = DOCTOR_OPTIONS.map((o) => {
    const notes: string[] = [];
    if (o.default !== undefined) notes.push(`default: ${o.default}`);
    if (o.env !== undefined) notes.push(`env: ${o.env}`);
    return {
      flag: `--${o.name}${o.arg === undefined ? "" : ` ${o.arg}`}`,
      help: o.help,
      notes: notes.join("; "),
    };
  });
  const width = Math.max(...rows.map((r) => r.flag.length)) + 2;
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`  ${r.flag.padEnd(width)}${r.help}`);
    if (r.notes !== "") lines.push(`${" ".repeat(width + 2)}${r.notes}`);
  }
  return [
    "Usage: sse-broker doctor URL [options]",
    "",
    "Opens the event stream at URL (http or https, through whatever proxies are on the way) and says",
    "whether something between this client and the hub buffers, compresses or times out the stream:",
    "status and Content-Type, Content-Encoding, X-Accel-Buffering and Cache-Control as received, time to",
    "the head and the first bytes, heartbeat arrival times, bursts, early closes; with --publish, the",
    "end-to-end time of a probe event. Each problem comes with the fix for nginx, Apache, Caddy, HAProxy,",
    "Cloudflare and AWS ALB (docs/doctor.md).",
    "",
    "Options:",
    ...lines,
    "",
    "Exit codes: 0 healthy, 1 problems found, 2 usage error or URL unreachable.",
    "",
  ].join("\n");
}
