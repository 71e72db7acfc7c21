/**
 * `sse-broker doctor URL [options]`: argv → what to probe. Pure; throws SSEB_ERR_OPTIONS_INVALID (exit 2)
 * with a one-line message naming the option. Header values and tokens are never echoed.
 * @module
 */
import { parseArgs } from "node:util";
import { optionsError } from "../errors.js";

export interface DoctorOption {
  readonly name: string;
  readonly arg?: string;
  readonly multiple?: boolean;
  readonly env?: string;
  readonly default?: string;
  readonly help: string;
}

/** The doctor's own options (the server's live in src/cli/option-specs.ts). */
export const DOCTOR_OPTIONS: readonly DoctorOption[] = [
  {
    name: "header",
    arg: "'NAME: VALUE'",
    multiple: true,
    help: "request header sent with the stream request (e.g. 'Authorization: Bearer …'); repeatable",
  },
  {
    name: "duration-ms",
    arg: "MS",
    default: "3 heartbeats + 2 s (30000 when the interval is unknown)",
    help: "how long to watch the stream, 500 to 600000",
  },
  {
    name: "heartbeat-ms",
    arg: "MS",
    default: "the SSE-Broker-Heartbeat response header",
    help: "heartbeat interval to expect, for hubs that do not advertise one",
  },
  { name: "json", help: "print the report as one JSON object" },
  {
    name: "publish",
    arg: "URL",
    help: "publish a probe event there (POST /publish or the Mercure hub) and time its arrival",
  },
  {
    name: "publish-token",
    arg: "TOKEN",
    env: "SSE_BROKER_DOCTOR_PUBLISH_TOKEN",
    help: "bearer token for --publish",
  },
  {
    name: "publish-topic",
    arg: "TOPIC",
    default: "the stream URL's first topic parameter",
    help: "topic of the probe event",
  },
  { name: "help", help: "print this help, exit 0" },
];

export interface DoctorConfig {
  readonly url: URL;
  /** Request headers given with --header, as [name, value] pairs in order. */
  readonly headers: readonly (readonly [string, string])[];
  readonly durationMs: number | undefined;
  readonly heartbeatMs: number | undefined;
  readonly json: boolean;
  readonly publish: { readonly url: URL; readonly token: string | undefined; readonly topic: string } | null;
}

export type DoctorCommand = { kind: "help" } | { kind: "run"; config: DoctorConfig };

export const MIN_DURATION_MS = 500;
export const MAX_DURATION_MS = 600_000;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseDoctorArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): DoctorCommand {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const o of DOCTOR_OPTIONS) {
    options[o.name] = {
      type: o.arg === undefined ? "boolean" : "string",
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const flag = /--[a-z][a-z0-9-]*/.exec(e.message ?? "")?.[0] ?? "an option";
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION")
      throw optionsError(`doctor: unknown option ${flag} (see doctor --help)`);
    throw optionsError(`doctor: ${flag} needs a value`);
  }
  const v = parsed.values;
  if (v.help === true) return { kind: "help" };
  if (parsed.positionals.length !== 1) {
    throw optionsError(
      parsed.positionals.length === 0
        ? "doctor needs the URL of a stream, e.g. sse-broker doctor https://example.com/events?topic=x"
        : "doctor takes one URL (quote it in the shell when it has & in it)",
    );
  }
  const url = httpUrl(parsed.positionals[0] as string, "the stream URL");
  const headers = ((v.header as string[] | undefined) ?? []).map(header);
  const durationMs = int(v["duration-ms"], "--duration-ms", MIN_DURATION_MS, MAX_DURATION_MS);
  const heartbeatMs = int(v["heartbeat-ms"], "--heartbeat-ms", 1, MAX_DURATION_MS);
  const token = (v["publish-token"] as string | undefined) ?? nonEmpty(env.SSE_BROKER_DOCTOR_PUBLISH_TOKEN);
  let publish: DoctorConfig["publish"] = null;
  if (v.publish !== undefined) {
    const topic = (v["publish-topic"] as string | undefined) ?? url.searchParams.get("topic") ?? undefined;
    if (topic === undefined || topic === "") {
      throw optionsError("doctor: --publish needs --publish-topic (the stream URL has no topic parameter)");
    }
    publish = { url: httpUrl(v.publish as string, "--publish"), token, topic };
  } else if (v["publish-token"] !== undefined || v["publish-topic"] !== undefined) {
    throw optionsError("doctor: --publish-token and --publish-topic go with --publish <URL>");
  }
  return { kind: "run", config: { url, headers, durationMs, heartbeatMs, json: v.json === true, publish } };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

/** Only http: and https: with a host; the URL itself is never echoed (it may carry a token). */
function httpUrl(text: string, label: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {}
  if (u === undefined || (u.protocol !== "http:" && u.protocol !== "https:") || u.hostname === "") {
    throw optionsError(
      `doctor: ${label} must be an http: or https: URL like https://example.com/events?topic=x`,
    );
  }
  return u;
}

function header(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon).trim();
  const value = colon < 0 ? "" : text.slice(colon + 1).trim();
  if (!TOKEN.test(name) || /[\r\n\0]/.test(value)) {
    // The value is not echoed: it is usually a credential.
    throw optionsError(
      `doctor: --header must look like 'Name: value' (got a header named ${JSON.stringify(name)})`,
    );
  }
  return [name, value];
}

function int(raw: unknown, label: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw optionsError(
      `doctor: ${label} must be an integer between ${min} and ${max} (got ${JSON.stringify(text)})`,
    );
  }
  return n;
}
