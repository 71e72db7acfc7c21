/**
 * fast-check arbitraries of raw HTTP/1.1 requests aimed at every route of a broker with the Mercure hub:
 * methods, request targets, query strings, headers, bodies and message framing, each rendered to the exact
 * bytes sent (a latin1 string: one char per byte). A case prints as its bytes, so a shrunk counterexample
 * is the minimal reproducing request.
 * @module
 */
import fc from "fast-check";

/** Credentials the fuzzer mixes in, so authorized code paths run too. */
export interface FuzzCredentials {
  /** Static bearer token of `POST /publish`. */
  readonly publishToken: string;
  /** A valid hub JWT that may publish and subscribe to everything. */
  readonly hubToken: string;
  readonly expiredHubToken: string;
  /** Signed with another key. */
  readonly foreignToken: string;
}

/** One raw exchange: the bytes and how to send them. */
export interface FuzzCase {
  /** The request bytes, one char per byte. */
  readonly raw: string;
  /** Methods of the requests in `raw`, in order (pipelining sends several). */
  readonly methods: readonly string[];
  /** Send FIN after the bytes (for requests incomplete on purpose). */
  readonly halfClose: boolean;
  /** Write the bytes in pieces at these offsets. */
  readonly splitAt: readonly number[];
}

type Framing =
  | { kind: "length" }
  | { kind: "none" }
  | { kind: "chunked"; te: string; sizes: number[]; extension: string }
  | { kind: "te-raw"; te: string }
  | { kind: "both" }
  | { kind: "lie"; delta: number }
  | { kind: "cl-garbage"; value: string };

interface RequestSpec {
  method: string;
  target: string;
  version: string;
  host: string | null;
  headers: [string, string][];
  /** Bytes, one char per byte. */
  body: string;
  framing: Framing;
}

const utf8Bytes = (s: string): string => Buffer.from(s, "utf8").toString("latin1");

/** Repeats of a short unit print as `⟪unit⟫×n`, so a 5 000-deep body still fits on one line. */
function label(c: FuzzCase): string {
  const text = JSON.stringify(c.raw).replace(
    /(.{1,8}?)\1{15,}/gs,
    (run, unit: string) => `⟪${unit}⟫×${run.length / unit.length}`,
  );
  const flags = [c.halfClose ? "then FIN" : "", c.splitAt.length > 0 ? `split at ${c.splitAt}` : ""];
  return [text, ...flags.filter((f) => f !== "")].join(", ");
}

function fuzzCase(raw: string, methods: string[], halfClose: boolean, splitAt: number[] = []): FuzzCase {
  const c = { raw, methods, halfClose, splitAt };
  return Object.assign(c, { [fc.toStringMethod]: () => label(c) });
}

function chunk(body: string, sizes: number[], extension: string): string {
  let out = "";
  let at = 0;
  for (let i = 0; at < body.length; i++) {
    const n = sizes[i % sizes.length] ?? 16;
    const piece = body.slice(at, at + n);
    out += `${piece.length.toString(16)}${extension}\r\n${piece}\r\n`;
    at += n;
  }
  return `${out}0\r\n\r\n`;
}

/** The request's bytes, and whether it is incomplete on purpose (declares more body than it sends). */
function render(spec: RequestSpec): { raw: string; incomplete: boolean } {
  const lines = [`${spec.method} ${spec.target}${spec.version === "" ? "" : ` ${spec.version}`}`];
  if (spec.host !== null) lines.push(`Host: ${spec.host}`);
  for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  const f = spec.framing;
  let body = spec.body;
  let incomplete = false;
  switch (f.kind) {
    case "length":
      if (body !== "" || spec.method === "POST") lines.push(`Content-Length: ${body.length}`);
      break;
    case "none":
      break;
    case "chunked":
      lines.push(`Transfer-Encoding: ${f.te}`);
      body = chunk(body, f.sizes, f.extension);
      break;
    case "te-raw":
      lines.push(`Transfer-Encoding: ${f.te}`);
      break;
    case "both":
      lines.push(`Content-Length: ${body.length}`, "Transfer-Encoding: chunked");
      body = chunk(body, [32], "");
      break;
    case "lie": {
      const declared = Math.max(0, body.length + f.delta);
      incomplete = declared > body.length;
      lines.push(`Content-Length: ${declared}`);
      break;
    }
    case "cl-garbage":
      lines.push(`Content-Length: ${f.value}`);
      break;
  }
  return { raw: `${lines.join("\r\n")}\r\n\r\n${body}`, incomplete };
}

/** Builds the arbitraries for a broker listening on `port`. */
export function requestArbitraries(port: number, cred: FuzzCredentials) {
  const goodHost = `127.0.0.1:${port}`;

  // --- request line ---------------------------------------------------------------------------------
  // Each piece has a well-formed variant and a hostile one (which adds garbage): half the cases are built
  // from well-formed pieces only, so they get past Node's parser and exercise the broker's own code.
  const cleanMethod = fc.constantFrom("GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH");
  const method = fc.oneof(
    { weight: 14, arbitrary: cleanMethod },
    {
      weight: 1,
      arbitrary: fc.constantFrom("get", "CONNECT", "TRACE", "PROPFIND", "QUERY", "PRI", "SOURCE"),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,12}$/) },
    { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 8 }) },
  );
  const cleanVersion = fc.oneof(
    { weight: 9, arbitrary: fc.constant("HTTP/1.1") },
    { weight: 1, arbitrary: fc.constant("HTTP/1.0") },
  );
  const version = fc.oneof(
    { weight: 30, arbitrary: fc.constant("HTTP/1.1") },
    { weight: 3, arbitrary: fc.constant("HTTP/1.0") },
    {
      weight: 2,
      arbitrary: fc.constantFrom("HTTP/2.0", "HTTP/0.9", "http/1.1", "HTTP/1.1 x", "HTTP/1.12", ""),
    },
  );

  // --- topics, selectors, ids, credentials -------------------------------------------------------------
  const plainTopic = fc.constantFrom(
    "a",
    "fuzz/1",
    "fuzz/2",
    "https://example.com/books/1",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "é/ü/😀",
    "*",
    "x y",
  );
  // Two expressions at most: compile time of templates is defect 1's test, not this run's bottleneck.
  const expression = fc
    .tuple(
      fc.constantFrom("", "+", "#", ".", "/", ";", "?", "&"),
      fc.constantFrom("a", "b", "id", "x_1", "a,b"),
      fc.constantFrom("", "*", ":3"),
    )
    .map(([op, name, mod]) => `{${op}${name}${mod}}`);
  const template = fc.oneof(
    fc.constantFrom(
      "{#a}{+b}{?c*}",
      "https://example.com/books/{id}",
      "/fuzz/{a}",
      "{",
      "}",
      "{}",
      "{{a}}",
      "{a",
      "{?}",
      "{%zz}",
      "{=a}",
      "{a:99999}",
      "{a**}",
    ),
    fc
      .array(fc.tuple(fc.constantFrom("", "/", "x", "https://example.com/"), expression), {
        minLength: 1,
        maxLength: 2,
      })
      .map((parts) => parts.map(([lit, e]) => lit + e).join("")),
  );
  const longValue = fc.integer({ min: 100, max: 20_000 }).map((n) => "t".repeat(n));
  const topic = fc.oneof(
    { weight: 10, arbitrary: plainTopic },
    { weight: 2, arbitrary: template },
    { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 1, arbitrary: longValue },
  );
  const cleanEventId = fc.oneof(
    fc.constantFrom("earliest", "0", "1", "urn:uuid:00000000-0000-0000-0000-000000000000", "#x", ""),
    fc.string({ maxLength: 40 }),
  );
  const eventId = fc.oneof(
    cleanEventId,
    fc.constantFrom("a\rb", "a\nb", "a\u0000b", "a\r\nX-Injected: 1", "\u0085"),
    longValue,
  );
  const credential = fc.constantFrom(
    cred.publishToken,
    cred.hubToken,
    cred.expiredHubToken,
    cred.foreignToken,
    // alg: none, publish everything
    "eyJhbGciOiJub25lIn0.eyJtZXJjdXJlIjp7InB1Ymxpc2giOlsiKiJdLCJzdWJzY3JpYmUiOlsiKiJdfX0.",
    "a.b.c",
    "",
    "null",
  );

  // --- query strings ------------------------------------------------------------------------------------
  const rawEscape = fc.constantFrom(
    "%FF",
    "%zz",
    "%",
    "%0",
    "%00",
    "%0A",
    "%0D%0A",
    "%C3%28",
    "%E2%82",
    "%ED%A0%80",
    "%F0%9F%98%80",
    "%25",
    "%2F",
    "+",
    "{#a}{+b}{?c*}",
  );
  const paramValue = (value: fc.Arbitrary<string>, hostile = true) =>
    hostile
      ? fc
          .tuple(
            value,
            fc.constantFrom("encoded", "encoded", "encoded", "raw"),
            fc.option(rawEscape, { freq: 6 }),
          )
          .map(([v, how, tail]) => (how === "encoded" ? encodeURIComponent(v) : v) + (tail ?? ""))
      : value.map(encodeURIComponent);
  const params = (hostile: boolean) => {
    const paramValueOf = (value: fc.Arbitrary<string>) => paramValue(value, hostile);
    return fc.oneof(
      { weight: 8, arbitrary: fc.tuple(fc.constant("topic"), paramValueOf(topic)) },
      { weight: 1, arbitrary: fc.tuple(fc.constant("lastEventID"), paramValueOf(eventId)) },
      { weight: 1, arbitrary: fc.tuple(fc.constant("authorization"), paramValueOf(credential)) },
      {
        weight: 1,
        arbitrary: fc.tuple(
          fc.constantFrom(
            "id",
            "event",
            "retry",
            "data",
            "private",
            "type",
            "Last-Event-ID",
            "topic[]",
            "TOPIC",
          ),
          paramValueOf(fc.string({ maxLength: 20 })),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(paramValueOf(fc.string({ maxLength: 8 })), paramValueOf(fc.string())),
      },
    );
  };
  const queryOf = (hostile: boolean) =>
    fc
      .oneof(
        { weight: 10, arbitrary: fc.array(params(hostile), { maxLength: 5 }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<[string, string][]>([["", ""]], [["topic", ""]], [["&&", "="]]),
        },
      )
      .map((ps) => (ps.length === 0 ? "" : `?${ps.map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join("&")}`));
  const query = queryOf(true);

  // --- paths and request targets --------------------------------------------------------------------------
  const path = fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constantFrom(
        "/",
        "/events",
        "/events",
        "/publish",
        "/publish",
        "/healthz",
        "/metrics",
        "/.well-known/mercure",
        "/.well-known/mercure",
        "/.well-known/mercure/subscriptions",
        "/index.html",
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(topic, fc.option(fc.constantFrom("urn:uuid:x", "", "%zz", "a/b"), { nil: undefined }))
        .map(
          ([t, s]) =>
            `/.well-known/mercure/subscriptions/${encodeURIComponent(t)}${s === undefined ? "" : `/${s}`}`,
        ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "/favicon.ico",
        "/web/index.html",
        "/../package.json",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fpackage.json",
        "/events/",
        "/EVENTS",
        "/events%00",
        "/publish;x",
        "/.well-known/mercure/",
        "/.well-known/mercure/x",
        "/index.html%00.js",
        "/%ff",
      ),
    },
    { weight: 2, arbitrary: fc.webPath() },
    { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 20 }).map((s) => `/${s}`) },
  );
  // A target starting with "//" parses as scheme-relative (an authority follows): it belongs to the odd
  // targets below, so a failure there does not hide everything else origin-form requests might find.
  const originTargetOf = (hostile: boolean) =>
    fc.tuple(path, queryOf(hostile)).map(([p, q]) => p.replace(/^\/{2,}/, "/") + q);
  const originTarget = originTargetOf(true);
  const absoluteTarget = fc
    .tuple(
      fc.constantFrom("http://", "https://", "HTTP://", "ws://", "ftp://", "//", "http:/", "http:"),
      fc.constantFrom(
        "h",
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::1",
        "exa mple",
        "",
        "h%00",
        "ü",
        "a@b",
        "0",
      ),
      fc.constantFrom("", ":99999", ":65536", ":0", ":80", ":-1", ":abc", ":", `:${port}`, ":1e3"),
      path,
      query,
      fc.constantFrom("", "", "#frag"),
    )
    .map((parts) => parts.join(""));
  const oddTarget = fc.oneof(
    fc.constantFrom("*", `127.0.0.1:${port}`, "events", "", "?topic=a", "%2Fevents", "#x", "///"),
    fc.tuple(fc.constantFrom("//", "//h:99999", "//[::1", "//h"), path, query).map((parts) => parts.join("")),
  );

  // --- headers --------------------------------------------------------------------------------------------
  const contentType = fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json;charset=latin1",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/x-www-form-urlencoded; charset=ISO-8859-1",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "text/event-stream",
    "",
    ";",
    "application/json, text/plain",
  );
  const bearer = fc
    .tuple(
      fc.constantFrom("Bearer ", "Bearer ", "bearer ", "Bearer  ", "Basic ", "", "Bearer"),
      credential,
      fc.constantFrom("", "", " junk", "junk", ",", " "),
    )
    .map(([scheme, t, tail]) => scheme + t + tail);
  const cleanHeader: fc.Arbitrary<[string, string]> = fc.oneof(
    { weight: 3, arbitrary: contentType.map((v): [string, string] => ["Content-Type", v]) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          "text/event-stream",
          "text/html",
          "text/html,application/xhtml+xml,*/*;q=0.8",
          "*/*",
          "application/json",
          "text/event-stream;q=0, text/html;q=0.1",
          "garbage;;q=x",
        )
        .map((v): [string, string] => ["Accept", v]),
    },
    { weight: 2, arbitrary: cleanEventId.map((v): [string, string] => ["Last-Event-ID", v]) },
    { weight: 3, arbitrary: bearer.map((v): [string, string] => ["Authorization", v]) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom("mercureAuthorization=", "a=b; mercureAuthorization=", "mercureAuthorization"),
          credential,
        )
        .map(([k, v]): [string, string] => ["Cookie", k + v]),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("https://evil.example", "null", `http://${goodHost}`, "", "garbage")
        .map((v): [string, string] => ["Origin", v]),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("https://evil.example/x", "::", `http://${goodHost}/`)
        .map((v): [string, string] => ["Referer", v]),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("8.8.8.8", "127.0.0.1", "1.1.1.1, 2.2.2.2", "unknown", "::1", "x".repeat(300))
        .map((v): [string, string] => ["X-Forwarded-For", v]),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<[string, string]>(
        ["Expect", "100-continue"],
        ["Expect", "nonsense"],
        ["Connection", "close"],
        ["Connection", "keep-alive"],
        ["Connection", "Upgrade"],
        ["Upgrade", "websocket"],
        ["Upgrade", "h2c"],
        ["Access-Control-Request-Method", "POST"],
        ["Access-Control-Request-Headers", "authorization, content-type"],
        ["Host", goodHost],
        ["Content-Encoding", "gzip"],
      ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/), fc.string({ maxLength: 30 })),
    },
  );
  const header: fc.Arbitrary<[string, string]> = fc.oneof(
    { weight: 12, arbitrary: cleanHeader },
    { weight: 1, arbitrary: eventId.map((v): [string, string] => ["Last-Event-ID", v]) },
    { weight: 1, arbitrary: fc.string().map((v): [string, string] => ["Authorization", v]) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ unit: "binary-ascii", maxLength: 10 }), fc.string()) },
  );
  const host = fc.oneof(
    { weight: 20, arbitrary: fc.constant<string | null>(goodHost) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<string | null>(
        null,
        "localhost",
        "evil.example",
        "[::1]",
        "",
        "a b",
        "h:99999",
      ),
    },
  );

  // --- bodies ---------------------------------------------------------------------------------------------
  const jsonPublish = fc
    .record(
      {
        topic: fc.oneof(
          plainTopic,
          fc.array(plainTopic, { maxLength: 4 }),
          topic,
          fc.jsonValue({ maxDepth: 2 }),
        ),
        data: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 3 })),
        event: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 })),
        id: fc.oneof(eventId, fc.integer()),
        retry: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
      },
      { requiredKeys: [] },
    )
    .map((o) => utf8Bytes(JSON.stringify(o)));
  const brokenJson = fc.constantFrom(
    "{",
    "{bad",
    "[1]",
    "null",
    '{"topic":"a","data":"x"',
    '{"topic":"a","data":"x"}{"topic":"b"}',
    '{"topic":"a","data":"\\ud800"}',
    '{"__proto__":{"topic":"a"},"data":1}',
    '{"topic":"a","topic":5,"data":"x"}',
    "\ufeff{}",
  );
  const nested = (max: number) =>
    fc
      .tuple(fc.integer({ min: 1, max }), fc.constantFrom("array", "object", "topic", "unbalanced"))
      .map(([depth, shape]) => {
        if (shape === "array") return `{"topic":"fuzz/deep","data":${"[".repeat(depth)}${"]".repeat(depth)}}`;
        if (shape === "object")
          return `{"topic":"fuzz/deep","data":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
        if (shape === "topic") return `{"topic":${"[".repeat(depth)}"a"${"]".repeat(depth)},"data":"x"}`;
        return `{"topic":"fuzz/deep","data":${"[".repeat(depth)}`;
      });
  const formField = fc.tuple(
    fc.constantFrom("topic", "topic", "data", "private", "id", "type", "retry", "topic[]", ""),
    paramValue(fc.oneof(topic, eventId, fc.string({ maxLength: 20 }))),
  );
  const form = fc
    .array(formField, { maxLength: 6 })
    .map((fields) => fields.map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join("&"));
  const binary = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("latin1"));
  const invalidUtf8 = fc
    .tuple(
      fc.constantFrom("\xff\xfe", "a\xc3(", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "\xc0\xaf", "\xe2\x82"),
      fc.constantFrom("json", "form", "text"),
    )
    .map(([bad, how]) =>
      how === "json"
        ? `{"topic":"fuzz/1","data":"${bad}"}`
        : how === "form"
          ? `topic=fuzz/1&data=${bad}`
          : bad,
    );
  const text = fc.string({ maxLength: 200 }).map(utf8Bytes);
  const body = fc.oneof(
    { weight: 6, arbitrary: fc.constant("") },
    { weight: 4, arbitrary: jsonPublish },
    { weight: 1, arbitrary: brokenJson },
    { weight: 1, arbitrary: nested(64) },
    { weight: 3, arbitrary: form },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => utf8Bytes(JSON.stringify(v) ?? "")) },
    { weight: 1, arbitrary: binary },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 1, arbitrary: text },
  );

  // --- framing ----------------------------------------------------------------------------------------------
  const chunkedTe = fc.oneof(
    { weight: 8, arbitrary: fc.constant("chunked") },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "gzip, chunked",
        "Chunked",
        "chunked, chunked",
        "identity, chunked",
        "deflate,chunked",
      ),
    },
  );
  const cleanFraming: fc.Arbitrary<Framing> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Framing>({ kind: "length" }) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 })
        .map((sizes): Framing => ({ kind: "chunked", te: "chunked", sizes, extension: "" })),
    },
  );
  const framing: fc.Arbitrary<Framing> = fc.oneof(
    { weight: 12, arbitrary: fc.constant<Framing>({ kind: "length" }) },
    {
      weight: 4,
      arbitrary: fc
        .record({
          te: chunkedTe,
          sizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }),
          extension: fc.constantFrom("", "", "", ";a=b", ";", `;x=${"y".repeat(50)}`),
        })
        .map((r): Framing => ({ kind: "chunked", ...r })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("gzip", "identity", "chunked, gzip", "x", "", "chunked\u000b", "chunked;q=1")
        .map((te): Framing => ({ kind: "te-raw", te })),
    },
    { weight: 1, arbitrary: fc.constant<Framing>({ kind: "both" }) },
    {
      weight: 2,
      arbitrary: fc
        .integer({ min: -40, max: 40 })
        .filter((d) => d !== 0)
        .map((delta): Framing => ({ kind: "lie", delta })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("abc", "-1", "1, 2", "0x10", "99999999999999999999", "+5", "1e3", "", "5 5")
        .map((value): Framing => ({ kind: "cl-garbage", value })),
    },
    { weight: 1, arbitrary: fc.constant<Framing>({ kind: "none" }) },
  );

  const spec = (
    target: fc.Arbitrary<string>,
    opts: {
      method?: fc.Arbitrary<string>;
      headers?: fc.Arbitrary<[string, string][]>;
      body?: fc.Arbitrary<string>;
      framing?: fc.Arbitrary<Framing>;
      version?: fc.Arbitrary<string>;
      host?: fc.Arbitrary<string | null>;
      /** Use the hostile variant of every piece not given. Defaults to `true`. */
      hostile?: boolean;
    } = {},
  ): fc.Arbitrary<RequestSpec> => {
    const hostile = opts.hostile ?? true;
    return fc.record({
      method: opts.method ?? (hostile ? method : cleanMethod),
      target,
      version: opts.version ?? (hostile ? version : cleanVersion),
      host: opts.host ?? (hostile ? host : fc.constant(goodHost)),
      headers: opts.headers ?? fc.array(hostile ? header : cleanHeader, { maxLength: 6 }),
      body: opts.body ?? body,
      framing: opts.framing ?? (hostile ? framing : cleanFraming),
    });
  };

  /** One request per case; FIN after it sometimes, and always when it declares more body than it sends. */
  const single = (s: fc.Arbitrary<RequestSpec>): fc.Arbitrary<FuzzCase> =>
    fc
      .tuple(
        s,
        fc.option(fc.array(fc.nat({ max: 400 }), { minLength: 1, maxLength: 3 }), {
          freq: 8,
          nil: undefined,
        }),
        fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      )
      .map(([sp, split, fin]) => {
        const { raw, incomplete } = render(sp);
        return fuzzCase(raw, [sp.method], fin || incomplete, split ?? []);
      });

  // --- the properties' inputs ---------------------------------------------------------------------------------
  /** Anything in origin form (`/path?query`). */
  const originForm = single(
    fc.oneof(spec(originTargetOf(false), { hostile: false }), spec(originTargetOf(true))),
  );

  /** Absolute-form and other odd request targets (defect 14's `http://h:99999/...`). */
  const oddTargets = single(
    spec(fc.oneof({ weight: 6, arbitrary: absoluteTarget }, { weight: 1, arbitrary: oddTarget })),
  );

  /** Bodies on the two publish routes, mostly with valid credentials and the route's media type. */
  const publishRoute = (bodies: fc.Arbitrary<string>) =>
    fc
      .tuple(
        fc.constantFrom("plain", "plain", "hub"),
        fc.option(query, { freq: 3, nil: "" }),
        fc.oneof({ weight: 6, arbitrary: fc.constant("valid") }, { weight: 1, arbitrary: bearer }),
        fc.option(contentType, { freq: 5, nil: undefined }),
        bodies,
        fc.oneof(
          { weight: 6, arbitrary: fc.constant<Framing>({ kind: "length" }) },
          { weight: 1, arbitrary: framing },
        ),
        fc.array(header, { maxLength: 2 }),
      )
      .map(([route, q, auth, ct, b, fr, extra]): RequestSpec => {
        const hub = route === "hub";
        const authValue = auth === "valid" ? `Bearer ${hub ? cred.hubToken : cred.publishToken}` : auth;
        const type = ct ?? (hub ? "application/x-www-form-urlencoded" : "application/json");
        return {
          method: "POST",
          target: `${hub ? "/.well-known/mercure" : "/publish"}${q}`,
          version: "HTTP/1.1",
          host: goodHost,
          headers: [["Authorization", authValue], ["Content-Type", type], ...extra],
          body: b,
          framing: fr,
        };
      });
  const bodies = single(
    publishRoute(
      fc.oneof(
        { weight: 4, arbitrary: jsonPublish },
        { weight: 3, arbitrary: form },
        { weight: 1, arbitrary: brokenJson },
        { weight: 1, arbitrary: nested(200) },
        { weight: 1, arbitrary: binary },
        { weight: 1, arbitrary: invalidUtf8 },
        { weight: 1, arbitrary: text },
        { weight: 1, arbitrary: fc.jsonValue().map((v) => utf8Bytes(JSON.stringify(v) ?? "")) },
      ),
    ),
  );

  /** JSON nested up to ~6 000 deep (defect 14's RangeError). */
  const deepJson = fc
    .tuple(nested(6000), fc.constantFrom("application/json", "text/plain"))
    .map(([b, type]) => {
      const raw = render({
        method: "POST",
        target: type === "text/plain" ? "/publish?topic=fuzz/deep" : "/publish",
        version: "HTTP/1.1",
        host: goodHost,
        headers: [
          ["Authorization", `Bearer ${cred.publishToken}`],
          ["Content-Type", type],
        ],
        body: b,
        framing: { kind: "length" },
      }).raw;
      return fuzzCase(raw, ["POST"], false);
    });

  /** Requests cut short (then FIN, or left hanging), and input over every size limit. */
  const oversized = fc
    .oneof(
      longValue.map((v) =>
        spec(fc.constant("/events?topic=a"), { headers: fc.constant([["Last-Event-ID", v]]) }),
      ),
      fc.integer({ min: 100, max: 400 }).map((n) =>
        spec(fc.constant("/healthz"), {
          headers: fc.constant(
            Array.from({ length: n }, (_, i): [string, string] => [`X-H${i}`, "v".repeat(100)]),
          ),
        }),
      ),
      longValue.map((v) => spec(fc.constant(`/events?topic=${v}`))),
      fc
        .integer({ min: 64 * 1024 + 1, max: 100_000 })
        .map((n) => publishRoute(fc.constant(`{"topic":"fuzz/big","data":"${"x".repeat(n)}"}`))),
      fc.constant(
        spec(fc.constant("/publish"), {
          method: fc.constant("POST"),
          body: fc.constant("x"),
          framing: fc.constant<Framing>({
            kind: "chunked",
            te: "chunked",
            sizes: [1],
            extension: `;${"e".repeat(20_000)}`,
          }),
        }),
      ),
      fc.constant(
        spec(fc.constant("/publish"), {
          method: fc.constant("POST"),
          framing: fc.constant<Framing>({ kind: "cl-garbage", value: "99999999999" }),
        }),
      ),
    )
    .chain((s) => single(s));
  const truncated = fc
    .tuple(spec(originTarget), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.nat({ max: 19 }))
    .map(([sp, at, viaBody, hang]) => {
      const { raw } = render(sp);
      const headEnd = raw.indexOf("\r\n\r\n") + 4;
      // Cut in the head, or in the body when there is one.
      const from = viaBody && raw.length > headEnd ? headEnd : 0;
      const cut = from + Math.floor(at * (raw.length - from));
      // Mostly FIN after the cut; sometimes the connection just stays silent (costs a deadline).
      return fuzzCase(raw.slice(0, Math.max(1, cut)), [sp.method], hang !== 0);
    });
  const truncatedOrOversized = fc.oneof(
    { weight: 3, arbitrary: truncated },
    { weight: 2, arbitrary: oversized },
  );

  /** Several requests in one write, among them streams; sometimes a stream first. */
  // Complete messages with exact framing (mostly well-formed), so the server sees every boundary we meant.
  const complete = fc.oneof(
    {
      weight: 4,
      arbitrary: spec(originTargetOf(false), { hostile: false, version: fc.constant("HTTP/1.1") }),
    },
    {
      weight: 1,
      arbitrary: spec(originTarget, {
        version: fc.constant("HTTP/1.1"),
        host: fc.constant(goodHost),
        framing: cleanFraming,
      }),
    },
  );
  const stream = fc
    .tuple(
      fc.constantFrom(
        "/events?topic=fuzz/pipe",
        "/.well-known/mercure?topic=fuzz/pipe",
        "/events?topic=*",
        "/",
      ),
      fc.constantFrom("", "&lastEventID=earliest"),
    )
    .map(
      ([target, q]): RequestSpec => ({
        method: "GET",
        target: target === "/" ? target : target + q,
        version: "HTTP/1.1",
        host: goodHost,
        headers: [["Accept", "text/event-stream"]],
        body: "",
        framing: { kind: "none" },
      }),
    );
  const pipelined = fc
    .oneof(
      fc
        .tuple(stream, fc.array(fc.oneof(complete, stream), { minLength: 1, maxLength: 8 }))
        .map(([s, rest]) => [s, ...rest]),
      fc.array(fc.oneof({ weight: 4, arbitrary: complete }, { weight: 1, arbitrary: stream }), {
        minLength: 2,
        maxLength: 8,
      }),
    )
    .map((specs) =>
      fuzzCase(
        specs.map((s) => render(s).raw).join(""),
        specs.map((s) => s.method),
        false,
      ),
    );

  return { originForm, oddTargets, bodies, deepJson, truncatedOrOversized, pipelined };
}
