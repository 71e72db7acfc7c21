/**
 * One HTTP request over its own connection (no pooling), with any headers, `Host` included: node:http
 * sends what it is given, unlike fetch, which fixes `Host` and `Origin`.
 */
import { request } from "node:http";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body as JSON, or `undefined` when it is not JSON. */
  json: { error?: { code?: string; message?: string }; [k: string]: unknown } | undefined;
}

export function send(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: opts.method ?? "GET",
      headers: opts.headers ?? {},
      agent: false,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
    });
    req.once("error", reject);
    req.once("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.once("end", () => {
        let json: RawResponse["json"];
        try {
          json = JSON.parse(body);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.end(opts.body);
  });
}
