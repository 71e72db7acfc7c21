/**
 * `sse-broker doctor URL`: probe the stream (publishing a probe event once the head arrived, with
 * `--publish`), judge it, print the report. Exit code 0 healthy, 1 problems found; usage errors and an
 * unreachable URL throw (the CLI exits 2).
 * @module
 */
import { randomUUID } from "node:crypto";
import { optionsError } from "../errors.js";
import { HEARTBEAT_HEADER } from "../wire/headers.js";
import { type DoctorConfig, MAX_DURATION_MS, MIN_DURATION_MS } from "./args.js";
import { check, type Heartbeat, type PublishOutcome, timingOf } from "./checks.js";
import { probe, UnreachableError } from "./probe.js";
import { publishProbe } from "./publish.js";
import { type Report, reportJson, reportText, safeUrl } from "./report.js";

/** Watching for three intervals catches a missing heartbeat even after an event (two intervals apart). */
export function defaultDurationMs(heartbeatMs: number | null): number {
  if (heartbeatMs === null) return 30_000;
  return Math.min(MAX_DURATION_MS, Math.max(MIN_DURATION_MS, 3 * heartbeatMs + 2000));
}

export async function runDoctor(
  config: DoctorConfig,
  write: (text: string) => void,
  /** Told once the head arrived how long the watch lasts (people at a terminal wait for the report). */
  progress?: (text: string) => void,
): Promise<0 | 1> {
  let heartbeat: Heartbeat =
    config.heartbeatMs === undefined
      ? { ms: null, source: null }
      : { ms: config.heartbeatMs, source: "flag" };
  const marker = `sse-broker-doctor ${randomUUID()}`;
  let publishing: Promise<string | null> | null = null;
  let publishedAtMs = 0;
  let arrivedMs: number | null = null;
  const opts = {
    url: config.url,
    headers: config.headers,
    durationMs: config.durationMs ?? defaultDurationMs(heartbeat.ms),
    onHeaders: (head: {
      status: number | null;
      headers: Readonly<Record<string, string>>;
      headersMs: number | null;
    }) => {
      const advertised = Number(head.headers[HEARTBEAT_HEADER.toLowerCase()]);
      if (Number.isSafeInteger(advertised) && advertised > 0)
        heartbeat = { ms: advertised, source: "header" };
      if (config.durationMs === undefined) opts.durationMs = defaultDurationMs(heartbeat.ms);
      progress?.(`sse-broker doctor: watching ${safeUrl(config.url)} for ${opts.durationMs} ms…\n`);
      if (config.publish !== null && head.status === 200) {
        publishedAtMs = head.headersMs ?? 0;
        publishing = publishProbe({ ...config.publish, marker });
      }
    },
    onEvent: (data: string, atMs: number) => {
      if (arrivedMs === null && data.includes(marker)) arrivedMs = atMs;
    },
  };
  let result: Awaited<ReturnType<typeof probe>>;
  try {
    result = await probe(opts);
  } catch (err) {
    if (err instanceof UnreachableError) throw optionsError(`doctor: ${err.message}`);
    throw err;
  }
  let publish: PublishOutcome | null = null;
  if (publishing !== null) {
    const error = await (publishing as Promise<string | null>);
    publish =
      error === null
        ? { ok: true, atMs: publishedAtMs, arrivedMs }
        : { ok: false, atMs: publishedAtMs, error };
  }
  const findings = check(result, heartbeat, publish, config.heartbeatMs);
  const ok = !findings.some((f) => f.severity === "problem");
  const report: Report = {
    url: safeUrl(config.url),
    ok,
    exitCode: ok ? 0 : 1,
    heartbeat,
    durationMs: opts.durationMs,
    probe: result,
    timing: timingOf(result),
    publish,
    findings,
  };
  write(config.json ? reportJson(report) : reportText(report));
  return report.exitCode;
}
