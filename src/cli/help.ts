/**
 * `--help` text, generated from the option table so it cannot drift from what is parsed.
 * @module
 */
import { OPTIONS } from "./option-specs.js";

/** `--help` text: every option, by group, with its default and environment variables. */
export function helpText(version: string): string {
  const rows = OPTIONS.map((o) => {
    const short = o.short === undefined ? "    " : `-${o.short}, `;
    const flag = `${short}--${o.name}${o.arg === undefined ? "" : ` <${o.arg}>`}`;
    const notes: string[] = [];
    if (o.default !== undefined) notes.push(`default: ${o.default}`);
    // A switch's env var is a boolean: SSE_BROKER_DEMO=false is --no-demo, MERCURE_ANONYMOUS=true is --anonymous.
    const sense = o.name.startsWith("no-") ? "=false" : "=true";
    if (o.env !== undefined)
      notes.push(`env: ${o.env.map((e) => (o.arg === undefined ? e + sense : e)).join(", ")}`);
    return { group: o.group, flag, help: o.help, notes: notes.join("; ") };
  });
  const width = Math.max(...rows.map((r) => r.flag.length)) + 2;
  const indent = " ".repeat(width + 2);
  const lines: string[] = [];
  let group = "";
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      lines.push("", `${group}:`);
    }
    lines.push(`  ${r.flag.padEnd(width)}${r.help}`);
    if (r.notes !== "") lines.push(`${indent}${r.notes}`);
  }
  return [
    `sse-broker ${version}: a Server-Sent Events broker`,
    "",
    "Usage: sse-broker [options]",
    "       sse-broker doctor URL [options]   check a deployed stream for buffering proxies (doctor --help)",
    "",
    "Serves the demo on port 8080 of all interfaces by default (--host 127.0.0.1: this machine only):",
    "a time event every 2 s on GET /, topics on GET /events?topic=..., publishing on POST /publish,",
    "/healthz and /metrics; the Mercure hub on /.well-known/mercure once a JWT key is given. Flags win",
    "over environment variables; empty environment variables are ignored. Secrets (tokens, keys) are",
    "best passed in environment variables. Every option: docs/configuration.md.",
    ...lines,
    "",
    "Exit codes: 0 stopped by SIGINT/SIGTERM (or --help, --version), 1 runtime error (e.g. port in use),",
    "2 bad configuration.",
    "",
  ].join("\n");
}
