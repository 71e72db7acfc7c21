/**
 * What the soak reads from each node: `/healthz` (open connections) and `/metrics` (Prometheus text).
 * @module
 */
import http from "node:http";

export interface NodeProbe {
  /** HTTP status of /healthz (0: no answer). */
  healthStatus: number;
  connections: number | null;
  /** Unlabelled samples of /metrics by name (labelled ones are skipped); null when /metrics did not answer 200. */
  metrics: Record<string, number> | null;
  metricsStatus: number;
}

function get(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.once("error", () => resolve({ status: 0, body: "" }));
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve({ status: 0, body: "" }));
  });
}

/**
 * The unlabelled samples of a Prometheus text exposition. Hand-written: prom-client only writes this
 * format, and the soak needs a dozen counters, not a full parser (no labels, no histograms).
 */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)/.exec(line);
    if (m !== null) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

export async function probeNode(port: number): Promise<NodeProbe> {
  const [h, m] = await Promise.all([get(port, "/healthz"), get(port, "/metrics")]);
  let connections: number | null = null;
  try {
    const c = (JSON.parse(h.body) as { connections?: unknown }).connections;
    if (typeof c === "number") connections = c;
  } catch {
    // not JSON: connections stays null
  }
  return {
    healthStatus: h.status,
    connections,
    metricsStatus: m.status,
    metrics: m.status === 200 ? parseMetrics(m.body) : null,
  };
}
