/**
 * HTTP/2 test helpers: a self-signed certificate made by the openssl command at run time, the CLI's
 * server started in this process with --tls-cert/--tls-key, and event streams read over one session.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { parseCli } from "../../src/cli/args.js";
import { type RunningServer, startServer } from "../../src/cli/server.js";

export interface TestCert {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  remove(): void;
}

/** A fresh self-signed certificate for 127.0.0.1 and localhost (P-256: quick to make). */
export function makeCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), "sse-broker-h2-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return {
    dir,
    certFile,
    keyFile,
    cert: readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Skip reason when the openssl command is missing (scripts/ensure-system-deps.sh installs it). */
export const noOpenssl = ((): string | false => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return false;
  } catch {
    return "needs the openssl command";
  }
})();

/** The CLI's server (in this process) on 127.0.0.1, an ephemeral port, TLS on. */
export async function startTlsServer(cert: TestCert, args: readonly string[] = []): Promise<RunningServer> {
  const command = parseCli(
    [
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--no-demo",
      "--tls-cert",
      cert.certFile,
      "--tls-key",
      cert.keyFile,
      ...args,
    ],
    {},
  );
  if (command.kind !== "run") throw new Error("not a run command");
  return startServer({ config: command.config, logger: pino({ level: "silent" }) });
}

export function h2connect(port: number, cert: TestCert): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca: cert.cert });
    session.once("connect", () => {
      session.off("error", reject);
      resolve(session);
    });
    session.once("error", reject);
  });
}

export interface H2Stream {
  readonly stream: ClientHttp2Stream;
  readonly headers: Promise<Record<string, string | string[] | undefined>>;
  /** Text received so far. */
  text(): string;
  /** `data:` values received so far, in order. */
  data(): string[];
  /** Resolves once `data()` has `n` values (rejects after `timeoutMs`). */
  waitForData(n: number, timeoutMs?: number): Promise<string[]>;
  /** Resolves once the text contains `needle`. */
  waitForText(needle: string, timeoutMs?: number): Promise<void>;
  /** `end` (END_STREAM) or `reset <code>`, once the stream is over. */
  readonly ended: Promise<string>;
}

/** Opens a request on the session and collects what it receives. */
export function h2request(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
): H2Stream {
  const stream = session.request({ ":path": path, ...headers });
  let text = "";
  const waiters = new Set<() => void>();
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    text += chunk;
    for (const w of [...waiters]) w();
  });
  const responseHeaders = new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
    stream.once("response", (h) => resolve(h as Record<string, string | string[] | undefined>));
    stream.once("close", () => reject(new Error(`stream ${path} closed before its response`)));
  });
  responseHeaders.catch(() => {});
  let gotEnd = false;
  stream.once("end", () => {
    gotEnd = true;
  });
  const ended = new Promise<string>((resolve) => {
    stream.once("close", () => resolve(gotEnd && stream.rstCode === 0 ? "end" : `reset ${stream.rstCode}`));
  });
  stream.on("error", () => {});
  const data = (): string[] =>
    text
      .split(/\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart());
  const waitFor = (ok: () => boolean, what: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (ok()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${what} not received within ${timeoutMs} ms; got ${JSON.stringify(text)}`));
      }, timeoutMs);
      const check = (): void => {
        if (!ok()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  return {
    stream,
    headers: responseHeaders,
    text: () => text,
    data,
    waitForData: async (n, timeoutMs = 10_000) => {
      await waitFor(() => data().length >= n, `${n} data lines`, timeoutMs);
      return data();
    },
    waitForText: (needle, timeoutMs = 10_000) => waitFor(() => text.includes(needle), needle, timeoutMs),
    ended,
  };
}

/** POST /publish on the session; resolves with status and body text. */
export async function h2publish(
  session: ClientHttp2Session,
  body: unknown,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const r = h2request(session, "/publish", { ":method": "POST", "content-type": "application/json" });
  r.stream.end(JSON.stringify(body));
  const headers = await r.headers;
  await r.ended;
  return { status: Number(headers[":status"]), body: r.text(), headers };
}
