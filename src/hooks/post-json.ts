/**
 * One JSON POST to the application's hook, with Node's global `fetch` (undici): a deadline covering the
 * whole exchange, no redirects followed (a 3xx is an answer like any other non-200), and a bounded read of
 * the answer (a hook that streams megabytes cannot grow memory). Never throws: every failure is a value.
 * @module
 */

export interface HookAnswer {
  readonly ok: true;
  readonly status: number;
  /** The parsed body when the status is 200, else `undefined`. */
  readonly body: unknown;
  /** `Cache-Control` of the answer, if any. */
  readonly cacheControl: string | null;
}

export interface HookFailure {
  readonly ok: false;
  /** A fixed word for logs and metrics (never the URL, headers or body). */
  readonly reason: "timeout" | "network" | "too_large" | "invalid_json" | "aborted";
}

export interface PostOptions {
  readonly headers?: Record<string, string>;
  /** Aborts the request (and the body read) when it fires. */
  readonly signal: AbortSignal;
  /** Largest answer body read, in bytes. */
  readonly maxBytes: number;
}

export async function postJson(
  url: string,
  body: unknown,
  o: PostOptions,
): Promise<HookAnswer | HookFailure> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { ...o.headers, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      redirect: "manual",
      signal: o.signal,
    });
  } catch {
    return { ok: false, reason: failureOf(o.signal, "network") };
  }
  const cacheControl = res.headers.get("cache-control");
  if (res.status !== 200) {
    // The connection goes back to the pool only once its body is consumed or cancelled.
    await res.body?.cancel().catch(() => {});
    return { ok: true, status: res.status, body: undefined, cacheControl };
  }
  const text = await readBounded(res, o.maxBytes, o.signal);
  if (typeof text !== "string") return { ok: false, reason: text };
  try {
    return { ok: true, status: 200, body: JSON.parse(text), cacheControl };
  } catch {
    return { ok: false, reason: "invalid_json" };
  }
}

async function readBounded(
  res: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<string | HookFailure["reason"]> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    return "too_large";
  }
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return "too_large";
      }
      chunks.push(value);
    }
  } catch {
    return failureOf(signal, "network");
  }
  return Buffer.concat(chunks).toString("utf8");
}

function failureOf(signal: AbortSignal, otherwise: "network"): HookFailure["reason"] {
  if (!signal.aborted) return otherwise;
  return (signal.reason as Error | undefined)?.name === "TimeoutError" ? "timeout" : "aborted";
}
