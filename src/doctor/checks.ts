/**
 * Judges what a probe saw: each finding names a problem (exit 1) or a warning, with the proxy fixes that
 * apply. Pure: a ProbeResult, the heartbeat to expect and the probe event's fate in, findings out.
 * @module
 */
import type { FixKind } from "./fixes.js";
import type { ProbeItem, ProbeResult } from "./probe.js";

export type Severity = "problem" | "warning";

export interface Finding {
  readonly id: string;
  readonly severity: Severity;
  readonly message: string;
  readonly fix: FixKind | null;
}

export interface Heartbeat {
  readonly ms: number | null;
  readonly source: "header" | "flag" | null;
}

/** The probe event's fate (`--publish`): null when none was published. */
export type PublishOutcome =
  | { readonly ok: false; readonly atMs: number; readonly error: string }
  | { readonly ok: true; readonly atMs: number; readonly arrivedMs: number | null };

/**
 * Longest silence a healthy stream may show: the broker skips a heartbeat when it wrote an event since the
 * last one, so up to two intervals pass between writes; plus room for the network and a busy machine.
 */
export function maxSilenceMs(heartbeatMs: number): number {
  return 2 * heartbeatMs + Math.max(1000, heartbeatMs / 2);
}

/** A probe event taking longer than this from publish to arrival was held somewhere. */
export function probeLateMs(heartbeatMs: number | null): number {
  return Math.max(1000, (heartbeatMs ?? 0) / 2);
}

/** Heartbeats arriving together in one network chunk were held back: the broker writes each on its own. */
const BURST_COMMENTS = 3;

export interface Timing {
  /** Longest time without an SSE item, from the response head to the end. */
  readonly longestSilenceMs: number | null;
  /** Where it started (ms since the request). */
  readonly longestSilenceFromMs: number | null;
  /** Most heartbeat comments in one network chunk. */
  readonly maxCommentsPerChunk: number;
  /** Time from the last item (or the head) to the end. */
  readonly silenceAtEndMs: number | null;
}

export function timingOf(r: ProbeResult): Timing {
  if (r.headersMs === null) {
    return {
      longestSilenceMs: null,
      longestSilenceFromMs: null,
      maxCommentsPerChunk: 0,
      silenceAtEndMs: null,
    };
  }
  let prev = r.headersMs;
  let longest = 0;
  let from = prev;
  const points = [...r.items.map((i: ProbeItem) => i.atMs), r.end.atMs];
  for (const at of points) {
    if (at - prev > longest) {
      longest = at - prev;
      from = prev;
    }
    prev = at;
  }
  const perChunk = new Map<number, number>();
  for (const i of r.items) if (i.kind === "comment") perChunk.set(i.chunk, (perChunk.get(i.chunk) ?? 0) + 1);
  const last = r.items.length > 0 ? (r.items[r.items.length - 1] as ProbeItem).atMs : r.headersMs;
  return {
    longestSilenceMs: round(longest),
    longestSilenceFromMs: round(from),
    maxCommentsPerChunk: Math.max(0, ...perChunk.values()),
    silenceAtEndMs: round(r.end.atMs - last),
  };
}

export function check(
  r: ProbeResult,
  heartbeat: Heartbeat,
  publish: PublishOutcome | null,
  flagHeartbeatMs?: number,
): Finding[] {
  const out: Finding[] = [];
  const problem = (id: string, message: string, fix: FixKind | null): void => {
    out.push({ id, severity: "problem", message, fix });
  };
  const warning = (id: string, message: string, fix: FixKind | null): void => {
    out.push({ id, severity: "warning", message, fix });
  };
  if (r.status === null) {
    // nginx with proxy_buffering on holds the head too, until its buffer fills or the response ends.
    problem(
      "buffering",
      `no response head within ${r.end.atMs} ms (connected after ${r.connectMs} ms): something on the way holds the whole response (or the hub never answered)`,
      "buffering",
    );
    return out;
  }
  if (r.status !== 200) {
    problem("status", statusMessage(r.status), null);
    return out;
  }
  const headersMs = r.headersMs ?? r.end.atMs; // set whenever status is
  const h = r.headers;
  const type = h["content-type"] ?? "";
  if (!/^text\/event-stream\s*(;|$)/i.test(type)) {
    problem(
      "content-type",
      `Content-Type is ${type === "" ? "missing" : JSON.stringify(type)}, not text/event-stream: this URL is not an event stream, or something on the way rewrote the header (EventSource refuses such a response)`,
      "stream-headers",
    );
  }
  // Not a stream (a login page, an error document): its timing says nothing about buffering.
  const isStream = /^text\/event-stream\s*(;|$)/i.test(type);
  const encoding = (h["content-encoding"] ?? "").trim().toLowerCase();
  if (encoding !== "" && encoding !== "identity") {
    problem(
      "compression",
      `the stream arrived compressed (Content-Encoding: ${encoding}); the broker never compresses streams, so a proxy did: compressors hold data until their buffer fills, and a stream cannot be cached or compressed usefully`,
      "compression",
    );
  }
  if (r.decodeError !== null) warning("decode", r.decodeError, null);
  const accel = h["x-accel-buffering"];
  if (accel === undefined) {
    warning(
      "x-accel-buffering",
      "no X-Accel-Buffering: no reached the client: normal behind nginx (it consumes the header and honours it), otherwise a proxy removed it or the hub does not send it",
      "stream-headers",
    );
  } else if (accel.trim().toLowerCase() !== "no") {
    warning("x-accel-buffering", `X-Accel-Buffering is ${JSON.stringify(accel)}, not "no"`, "stream-headers");
  }
  const cacheControl = h["cache-control"] ?? "";
  if (!/(^|[\s,])no-transform([\s,]|$)/i.test(cacheControl)) {
    warning(
      "cache-control",
      `Cache-Control ${cacheControl === "" ? "is missing" : `is ${JSON.stringify(cacheControl)}`}, without no-transform: nothing tells proxies and CDNs not to compress or transform the stream`,
      "stream-headers",
    );
  }
  if (heartbeat.source === "header" && flagHeartbeatMs !== undefined && flagHeartbeatMs !== heartbeat.ms) {
    warning(
      "heartbeat-flag",
      `--heartbeat-ms ${flagHeartbeatMs} ignored: the broker advertises ${heartbeat.ms} ms (SSE-Broker-Heartbeat)`,
      null,
    );
  }
  if (headersMs - r.connectMs > 2000) {
    warning(
      "headers-slow",
      `the response head took ${round(headersMs - r.connectMs)} ms after connecting: something waited before answering (an auth hook, a proxy holding the head until the first bytes)`,
      null,
    );
  }

  if (!isStream) return out;
  const t = timingOf(r);
  const closedEarly = r.end.how !== "duration";
  const window = r.end.atMs - headersMs;
  const hb = heartbeat.ms;
  if (hb === null) {
    warning(
      "heartbeat-unknown",
      "the heartbeat interval is unknown (no SSE-Broker-Heartbeat header): pass --heartbeat-ms to judge arrival times",
      null,
    );
  } else {
    const limit = maxSilenceMs(hb);
    if (r.itemCount === 0 && window > limit) {
      problem(
        "buffering",
        `nothing arrived in ${round(window)} ms after the response head, although the hub writes a heartbeat every ${hb} ms: something on the way buffers the stream`,
        "buffering",
      );
    } else if (t.longestSilenceMs !== null && t.longestSilenceMs > limit && r.itemCount > 0) {
      problem(
        "buffering",
        `silent for ${t.longestSilenceMs} ms (from ${t.longestSilenceFromMs} ms) with a heartbeat every ${hb} ms${
          t.maxCommentsPerChunk >= BURST_COMMENTS
            ? `, then ${t.maxCommentsPerChunk} heartbeats arrived at once`
            : ""
        }: something on the way buffers the stream`,
        "buffering",
      );
    } else if (t.maxCommentsPerChunk >= BURST_COMMENTS) {
      problem(
        "buffering",
        `${t.maxCommentsPerChunk} heartbeats arrived in one piece although the hub writes each on its own every ${hb} ms: something on the way holds data back and releases it in bursts`,
        "buffering",
      );
    } else if (r.itemCount === 0 && !closedEarly) {
      warning(
        "duration-short",
        `nothing arrived in ${round(window)} ms; watch at least ${Math.ceil(limit + hb)} ms (--duration-ms) to judge the heartbeat`,
        null,
      );
    }
  }
  if (closedEarly) {
    const silence = t.silenceAtEndMs ?? 0;
    const idle = hb !== null && silence < hb;
    problem(
      "idle-timeout",
      `the connection was ${r.end.how === "closed" ? "closed" : "cut"} after ${r.end.atMs} ms, ${silence} ms after the last data${
        idle
          ? `: an idle timeout of about ${silence} ms, shorter than the heartbeat (${hb} ms)`
          : ": sse-broker keeps streams open (unless --max-stream-lifetime-ms is set), so something on the way ended it: an idle timeout, or a limit on a response's total time"
      }`,
      "idle-timeout",
    );
  }
  if (publish !== null) {
    if (!publish.ok)
      problem("probe-publish", `the probe event could not be published: ${publish.error}`, null);
    else if (publish.arrivedMs === null) {
      problem(
        "buffering-probe",
        `the probe event published at ${publish.atMs} ms never arrived (watched until ${r.end.atMs} ms): something on the way buffers the stream`,
        "buffering",
      );
    } else if (publish.arrivedMs - publish.atMs > probeLateMs(hb)) {
      problem(
        "buffering-probe",
        `the probe event took ${round(publish.arrivedMs - publish.atMs)} ms from publish to arrival: something on the way held it`,
        "buffering",
      );
    }
  }
  return out;
}

function statusMessage(status: number): string {
  if (status === 401 || status === 403) {
    return `HTTP ${status}: the stream needs credentials; pass them with --header 'Authorization: Bearer …' (or a Cookie header)`;
  }
  if (status >= 300 && status < 400) {
    return `HTTP ${status}: a redirect; EventSource follows it, so run the doctor on the URL it points to`;
  }
  if (status === 404) return "HTTP 404: no stream at this path (or the proxy routes it elsewhere)";
  if (status === 204) return "HTTP 204: the hub tells clients to stop reconnecting";
  if (status === 502 || status === 503 || status === 504) {
    return `HTTP ${status}: the proxy could not get a stream from the hub (hub down, refused, or over a limit)`;
  }
  return `HTTP ${status}, not 200: no stream was opened`;
}

function round(ms: number): number {
  return Math.round(ms);
}
