/**
 * Authorization attacks over real HTTP, table-driven: forged and misused JWTs against the Mercure hub
 * (classic `mercure` claim; HS256 keys, and RS256/ES256 keys for key confusion), private updates that must
 * not reach the wrong subscriber, tokens in query strings that must never reach the logs, cookie publishes
 * from other origins (CSRF), and the plain `/publish` route's static token.
 *
 * Not tested: that the static token is compared in constant time (not observable over HTTP here).
 */
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { exportJWK, SignJWT, UnsecuredJWT } from "jose";
import { createBroker } from "../../src/index.js";
import { exchange } from "../helpers/raw-http.js";
import { recordingLogger, waitFor } from "../helpers/redis-server.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { connectSse, type SseConnection } from "../helpers/sse-client.js";
import {
  errorCode,
  type HttpResult,
  type Hub,
  httpRequest,
  PUBLISHER_SECRET,
  publishForm,
  SUBSCRIBER_SECRET,
  startHub,
  subscribeUrl,
} from "../mercure/hub-fixture.js";

const now = (): number => Math.floor(Date.now() / 1000);
const secret = (s: string): Uint8Array => new TextEncoder().encode(s);
const pem = (k: KeyObject): string => k.export({ type: "spki", format: "pem" }) as string;
const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const attackerRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const attackerEc = generateKeyPairSync("ec", { namedCurve: "P-256" });

interface SignOptions {
  alg?: string;
  exp?: number;
  nbf?: number;
  header?: Record<string, unknown>;
}

/** A JWT with `claims` (the `mercure` claim and others) signed with `key`. */
function sign(
  claims: Record<string, unknown>,
  key: Uint8Array | KeyObject,
  opts: SignOptions = {},
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? "HS256", ...opts.header })
    .setIssuedAt();
  if (opts.exp !== undefined) jwt.setExpirationTime(opts.exp);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key);
}

/** An HS256 JWT with any header at all (jose refuses to sign some, e.g. unknown `crit` entries). */
function hmacToken(header: Record<string, unknown>, payload: Record<string, unknown>, key: string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

/** `jwt` with its payload replaced and the original signature kept. */
function withPayload(jwt: string, payload: Record<string, unknown>): string {
  const [header, , signature] = jwt.split(".");
  return `${header}.${b64url(payload)}.${signature}`;
}

const ALL = { mercure: { publish: ["*"], subscribe: ["*"] } };
const CHALLENGE = /^Bearer realm="mercure"/;

let hs: Hub;
let asym: Hub;
before(async () => {
  hs = await startHub({ anonymous: true, publishOrigins: ["https://app.example"] });
  asym = await startHub({
    anonymous: true,
    publisherJwtKey: pem(rsa.publicKey),
    publisherJwtAlg: "RS256",
    subscriberJwtKey: pem(ec.publicKey),
    subscriberJwtAlg: "ES256",
  });
});
after(async () => {
  await hs?.close();
  await asym?.close();
});

interface Row {
  name: string;
  hub: "hs" | "asym";
  role: "publish" | "subscribe";
  jwt: () => Promise<string>;
  /** The topic published to, or subscribed to. Defaults to `https://example.com/books/1`. */
  topic?: string;
  status: number;
  code?: string;
  /** Expected `WWW-Authenticate`: a pattern, or `null` for none; not checked when absent. */
  challenge?: RegExp | null;
}

const BOOK = "https://example.com/books/1";
const hsPublisher = (claims: Record<string, unknown> = ALL, opts: SignOptions = {}) =>
  sign(claims, secret(PUBLISHER_SECRET), opts);
const hsSubscriber = (claims: Record<string, unknown> = ALL, opts: SignOptions = {}) =>
  sign(claims, secret(SUBSCRIBER_SECRET), opts);

const rows: Row[] = [
  // Controls: the same requests with valid tokens pass, so every refusal below is about the token.
  {
    name: "a valid HS256 publisher token",
    hub: "hs",
    role: "publish",
    jwt: () => hsPublisher(),
    status: 200,
    challenge: null,
  },
  {
    name: "a hand-signed HS256 publisher token (the crafted rows' signer works)",
    hub: "hs",
    role: "publish",
    jwt: async () => hmacToken({ alg: "HS256" }, ALL, PUBLISHER_SECRET),
    status: 200,
    challenge: null,
  },
  {
    name: "a valid HS256 subscriber token",
    hub: "hs",
    role: "subscribe",
    jwt: () => hsSubscriber(),
    status: 200,
    challenge: null,
  },
  {
    name: "a valid RS256 publisher token",
    hub: "asym",
    role: "publish",
    jwt: () => sign(ALL, rsa.privateKey, { alg: "RS256" }),
    status: 200,
    challenge: null,
  },
  {
    name: "a valid ES256 subscriber token",
    hub: "asym",
    role: "subscribe",
    jwt: () => sign(ALL, ec.privateKey, { alg: "ES256" }),
    status: 200,
    challenge: null,
  },

  // alg: none in its spellings, with and without a signature part.
  ...(["publish", "subscribe"] as const).flatMap((role): Row[] => [
    {
      name: `alg: none (${role})`,
      hub: "hs",
      role,
      jwt: async () => new UnsecuredJWT(ALL).encode(),
      status: 401,
      code: "SSEB_ERR_AUTH_TOKEN_INVALID",
      challenge: CHALLENGE,
    },
    ...["None", "NONE", "nOnE"].map(
      (alg): Row => ({
        name: `alg: ${alg} (${role})`,
        hub: "hs",
        role,
        jwt: async () => `${b64url({ alg, typ: "JWT" })}.${b64url(ALL)}.`,
        status: 401,
        code: "SSEB_ERR_AUTH_TOKEN_INVALID",
        challenge: CHALLENGE,
      }),
    ),
    {
      name: `alg: none with a valid token's signature kept (${role})`,
      hub: "hs",
      role,
      jwt: async () => {
        const valid = await (role === "publish" ? hsPublisher() : hsSubscriber());
        return `${b64url({ alg: "none" })}.${b64url(ALL)}.${valid.split(".")[2]}`;
      },
      status: 401,
      code: "SSEB_ERR_AUTH_TOKEN_INVALID",
      challenge: CHALLENGE,
    },
    {
      name: `a valid token with its signature stripped (${role})`,
      hub: "hs",
      role,
      jwt: async () => {
        const [h, p] = (await (role === "publish" ? hsPublisher() : hsSubscriber())).split(".");
        return `${h}.${p}.`;
      },
      status: 401,
      code: "SSEB_ERR_AUTH_TOKEN_INVALID",
      challenge: CHALLENGE,
    },
  ]),

  // HS/RS (and HS/EC) key confusion: the public key, known to everyone, used as an HMAC secret.
  {
    name: "HS256 signed with the hub's RSA public key PEM as the secret",
    hub: "asym",
    role: "publish",
    jwt: () => sign(ALL, secret(pem(rsa.publicKey))),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "HS256 signed with the hub's RSA public key PEM, trailing newline trimmed",
    hub: "asym",
    role: "publish",
    jwt: () => sign(ALL, secret(pem(rsa.publicKey).trim())),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "HS256 signed with the hub's EC public key PEM as the secret (subscribe)",
    hub: "asym",
    role: "subscribe",
    jwt: () => sign(ALL, secret(pem(ec.publicKey))),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "PS256 signed with the right RSA private key (algorithm not configured)",
    hub: "asym",
    role: "publish",
    jwt: () => sign(ALL, rsa.privateKey, { alg: "PS256" }),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "RS256 signed with an attacker's RSA key",
    hub: "asym",
    role: "publish",
    jwt: () => sign(ALL, attackerRsa.privateKey, { alg: "RS256" }),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "RS256 signed with an attacker's key that the token embeds as its jwk header",
    hub: "asym",
    role: "publish",
    jwt: async () =>
      sign(ALL, attackerRsa.privateKey, {
        alg: "RS256",
        header: { jwk: await exportJWK(attackerRsa.publicKey) },
      }),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "ES256 signed with an attacker's EC key (subscribe)",
    hub: "asym",
    role: "subscribe",
    jwt: () => sign(ALL, attackerEc.privateKey, { alg: "ES256" }),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "the publisher's valid RS256 token used to subscribe (keys are per role)",
    hub: "asym",
    role: "subscribe",
    jwt: () => sign(ALL, rsa.privateKey, { alg: "RS256" }),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },

  // Validity window.
  ...(["publish", "subscribe"] as const).flatMap((role): Row[] => {
    const signer = role === "publish" ? hsPublisher : hsSubscriber;
    return [
      {
        name: `expired (${role})`,
        hub: "hs",
        role,
        jwt: () => signer(ALL, { exp: now() - 60 }),
        status: 401,
        code: "SSEB_ERR_AUTH_TOKEN_EXPIRED",
        challenge: CHALLENGE,
      },
      {
        name: `not yet valid: nbf an hour ahead (${role})`,
        hub: "hs",
        role,
        jwt: () => signer(ALL, { nbf: now() + 3600 }),
        status: 401,
        code: "SSEB_ERR_AUTH_TOKEN_INVALID",
        challenge: CHALLENGE,
      },
    ];
  }),

  // Wrong signatures.
  {
    name: "signed with the subscribers' secret, used to publish",
    hub: "hs",
    role: "publish",
    jwt: () => hsSubscriber(),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "signed with the publishers' secret, used to subscribe",
    hub: "hs",
    role: "subscribe",
    jwt: () => hsPublisher(),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "a payload widened to publish: ['*'] under the signature of a narrow token",
    hub: "hs",
    role: "publish",
    jwt: async () =>
      withPayload(await hsPublisher({ mercure: { publish: ["https://example.com/other"] } }), ALL),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "a payload widened to subscribe: ['*'] under the signature of a narrow token",
    hub: "hs",
    role: "subscribe",
    jwt: async () =>
      withPayload(await hsSubscriber({ mercure: { subscribe: ["https://example.com/other"] } }), ALL),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "HS512 with the right secret (algorithm not configured)",
    hub: "hs",
    role: "publish",
    jwt: () => hsPublisher(ALL, { alg: "HS512" }),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },
  {
    name: "an unknown critical header",
    hub: "hs",
    role: "publish",
    jwt: async () => hmacToken({ alg: "HS256", crit: ["x-attack"], "x-attack": 1 }, ALL, PUBLISHER_SECRET),
    status: 401,
    code: "SSEB_ERR_AUTH_TOKEN_INVALID",
    challenge: CHALLENGE,
  },

  // Claims that do not cover the request.
  {
    name: "a topic outside mercure.publish",
    hub: "hs",
    role: "publish",
    jwt: () => hsPublisher({ mercure: { publish: ["https://example.com/other/{id}"] } }),
    status: 403,
    code: "SSEB_ERR_AUTH_FORBIDDEN",
  },
  {
    name: "a topic one path segment deeper than the mercure.publish template",
    hub: "hs",
    role: "publish",
    topic: "https://example.com/books/1/secret",
    jwt: () => hsPublisher({ mercure: { publish: ["https://example.com/books/{id}"] } }),
    status: 403,
    code: "SSEB_ERR_AUTH_FORBIDDEN",
  },
  {
    name: "mercure.publish as a string instead of a list (grants nothing)",
    hub: "hs",
    role: "publish",
    jwt: () => hsPublisher({ mercure: { publish: "*" } }),
    status: 401,
    code: "SSEB_ERR_AUTH_REQUIRED",
    challenge: CHALLENGE,
  },
  {
    name: "a subscriber-only claim used to publish",
    hub: "hs",
    role: "publish",
    jwt: () => hsPublisher({ mercure: { subscribe: ["*"] } }),
    status: 401,
    code: "SSEB_ERR_AUTH_REQUIRED",
    challenge: CHALLENGE,
  },
];

async function attempt(
  row: Row,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const hub = row.hub === "hs" ? hs : asym;
  const topic = row.topic ?? BOOK;
  const jwt = await row.jwt();
  if (row.role === "publish") {
    return publishForm(
      hub.hub,
      [
        ["topic", topic],
        ["data", row.name],
      ],
      jwt,
    );
  }
  const sse = await connectSse(subscribeUrl(hub.hub, [topic]), {
    headers: { Authorization: `Bearer ${jwt}` },
  });
  try {
    if (sse.status !== 200) await sse.waitForEnd();
    return { status: sse.status, headers: sse.headers, body: sse.raw };
  } finally {
    sse.close();
  }
}

describe("JWT attacks on the Mercure hub", () => {
  for (const row of rows) {
    it(`${row.role === "publish" ? "publishing" : "subscribing"} with ${row.name} → ${row.status}`, async () => {
      const r = await attempt(row);
      assert.equal(r.status, row.status, r.body);
      if (row.code !== undefined) assert.equal(errorCode(r as HttpResult), row.code, r.body);
      if (row.challenge === null) assert.equal(r.headers["www-authenticate"], undefined);
      else if (row.challenge !== undefined)
        assert.match(String(r.headers["www-authenticate"] ?? ""), row.challenge);
    });
  }

  it("refuses to start with a PEM public key as an HS256 secret (key confusion by configuration)", () => {
    assert.throws(
      () => createBroker({ metrics: false, mercure: { jwtKey: pem(rsa.publicKey), jwtAlg: "HS256" } }),
      { code: "SSEB_ERR_OPTIONS_INVALID" },
    );
  });
});

/** Resolves once an event with `data` arrived; then everything before it has been delivered too. */
const until = (sse: SseConnection, data: string): Promise<void> =>
  waitFor(`event ${data}`, () => sse.events.some((e) => e.data === data), 5000);

describe("private updates", () => {
  it("reach only subscribers whose mercure.subscribe matches, never anonymous or non-matching ones", async () => {
    const topic = "https://example.com/private/42";
    const bearer = async (subscribe: string[]) => ({
      headers: { Authorization: `Bearer ${await hsSubscriber({ mercure: { subscribe } })}` },
    });
    const subscribers: Record<string, { sse: SseConnection; gets: string[] }> = {
      anonymous: { sse: await connectSse(subscribeUrl(hs.hub, [topic])), gets: ["end"] },
      "anonymous with a matching template selector": {
        sse: await connectSse(subscribeUrl(hs.hub, ["https://example.com/private/{id}"])),
        gets: ["end"],
      },
      "anonymous with the * selector": { sse: await connectSse(subscribeUrl(hs.hub, ["*"])), gets: ["end"] },
      "a claim for other topics": {
        sse: await connectSse(
          subscribeUrl(hs.hub, [topic]),
          await bearer(["https://example.com/other/{id}"]),
        ),
        gets: ["end"],
      },
      "a claim for other topics, selector *": {
        sse: await connectSse(subscribeUrl(hs.hub, ["*"]), await bearer(["https://example.com/other/{id}"])),
        gets: ["end"],
      },
      "a claim for a prefix of the topic": {
        sse: await connectSse(subscribeUrl(hs.hub, [topic]), await bearer(["https://example.com/private/4"])),
        gets: ["end"],
      },
      "an empty claim": {
        sse: await connectSse(subscribeUrl(hs.hub, [topic]), await bearer([])),
        gets: ["end"],
      },
      "a matching template claim": {
        sse: await connectSse(
          subscribeUrl(hs.hub, [topic]),
          await bearer(["https://example.com/private/{id}"]),
        ),
        gets: ["secret", "end"],
      },
      "a matching exact claim in the query string": {
        sse: await connectSse(
          subscribeUrl(hs.hub, [topic], {
            authorization: await hsSubscriber({ mercure: { subscribe: [topic] } }),
          }),
        ),
        gets: ["secret", "end"],
      },
      "the * claim in a cookie": {
        sse: await connectSse(subscribeUrl(hs.hub, [topic]), {
          headers: {
            Cookie: `mercureAuthorization=${await hsSubscriber({ mercure: { subscribe: ["*"] } })}`,
          },
        }),
        gets: ["secret", "end"],
      },
    };
    try {
      for (const [who, s] of Object.entries(subscribers)) assert.equal(s.sse.status, 200, who);
      const jwt = await hsPublisher();
      const priv = await publishForm(
        hs.hub,
        [
          ["topic", topic],
          ["data", "secret"],
          ["private", "on"],
        ],
        jwt,
      );
      assert.equal(priv.status, 200, priv.body);
      // The end marker: a public update on the same topic, delivered after the private one.
      const end = await publishForm(
        hs.hub,
        [
          ["topic", topic],
          ["data", "end"],
        ],
        jwt,
      );
      assert.equal(end.status, 200, end.body);
      for (const [who, s] of Object.entries(subscribers)) {
        await until(s.sse, "end");
        assert.deepEqual(
          s.sse.events.map((e) => e.data),
          s.gets,
          who,
        );
      }
    } finally {
      for (const s of Object.values(subscribers)) s.sse.close();
    }
  });
});

/** Every string a log line holds, errors (message, stack, cause) included. */
const rendered = (line: { obj: object; msg: string | undefined }): string =>
  `${line.msg ?? ""} ${inspect(line.obj, { depth: 20, breakLength: Number.POSITIVE_INFINITY, maxStringLength: null, maxArrayLength: null, showHidden: true })}`;

/** The secret parts of a JWT: itself, its payload and its signature. */
const secretsOf = (jwt: string): string[] => [
  jwt,
  ...jwt
    .split(".")
    .slice(1)
    .filter((s) => s.length >= 8),
];

function assertNotLogged(lines: { obj: object; msg: string | undefined }[], tokens: string[]): void {
  const secrets = tokens.flatMap(secretsOf);
  for (const line of lines) {
    const text = rendered(line);
    const leaked = secrets.filter((x) => text.includes(x));
    // The message shows the line with the secrets blanked out, so the failure is readable.
    const blanked = secrets.reduce((t, x) => t.replaceAll(x, "<TOKEN>"), text);
    const at = Math.max(0, blanked.indexOf("<TOKEN>") - 300);
    const shown = `${line.msg ?? ""} … ${blanked.slice(at, at + 400)}`;
    assert.deepEqual(
      leaked,
      [],
      `a ${(line as { level?: string }).level ?? ""} log line holds a token: ${shown}`,
    );
  }
}

describe("tokens in query strings never reach the logs", () => {
  let hub: Hub;
  let plain: TestServer;
  const logger = recordingLogger();
  before(async () => {
    hub = await startHub({ anonymous: true }, { logger, maxBodyBytes: 1024 });
    plain = await startServer({ logger, publishToken: "static-token-for-log-checks-0123456789" });
  });
  after(async () => {
    await hub?.close();
    await plain?.close();
  });

  it("logs none of them at debug level, for refused and for accepted requests", async () => {
    const tokens: string[] = [];
    const mint = async (p: Promise<string>): Promise<string> => {
      const t = await p;
      tokens.push(t);
      return t;
    };
    const subscribe = async (jwt: string, topic = BOOK): Promise<number> => {
      const sse = await connectSse(subscribeUrl(hub.hub, [topic], { authorization: jwt }));
      sse.close();
      return sse.status;
    };
    const publishQ = (jwt: string, body: string) =>
      httpRequest(`${hub.hub}?authorization=${jwt}`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });

    assert.equal(await subscribe(await mint(hsSubscriber())), 200);
    assert.equal(await subscribe(await mint(hsSubscriber(ALL, { exp: now() - 60 }))), 401);
    assert.equal(await subscribe(await mint(hsPublisher())), 401);
    assert.equal(await subscribe(await mint(Promise.resolve("not-a-jwt-but-a-secret-0123456789"))), 401);
    assert.equal(await subscribe(await mint(hsSubscriber()), "a\u0001b"), 400);
    assert.equal((await publishQ(await mint(hsPublisher()), `topic=${BOOK}&data=ok`)).status, 200);
    const narrow = await mint(hsPublisher({ mercure: { publish: ["https://example.com/other"] } }));
    assert.equal((await publishQ(narrow, `topic=${BOOK}&data=x`)).status, 403);
    assert.equal((await publishQ(await mint(hsPublisher()), "topic=a&data=%zz")).status, 400);
    assert.equal((await publishQ(await mint(hsPublisher()), `topic=a&data=${"x".repeat(2000)}`)).status, 413);
    assert.equal(
      (await httpRequest(`${hub.hub}/nope?authorization=${await mint(hsPublisher())}`)).status,
      404,
    );
    // An upload aborted half way, token in the query.
    const aborted = await exchange(
      Number(new URL(hub.base).port),
      `POST /.well-known/mercure?authorization=${await mint(hsPublisher())} HTTP/1.1\r\nHost: x\r\n` +
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntopic=a",
      { methods: ["POST"], halfClose: true },
    );
    assert.ok(
      aborted.statuses.every((s) => s < 500),
      `aborted upload: ${aborted.statuses}`,
    );
    // The plain routes ignore the parameter, but must not log it either.
    const plainToken = await mint(hsPublisher());
    const sse = await connectSse(`${plain.url}/events?topic=a&authorization=${plainToken}`);
    assert.equal(sse.status, 200);
    sse.close();
    assert.equal((await httpRequest(`${plain.url}/nope?authorization=${plainToken}`)).status, 404);
    assert.equal(
      (
        await httpRequest(`${plain.url}/publish?topic=a&authorization=${plainToken}`, {
          method: "POST",
          headers: { "Content-Type": "text/plain" },
          body: "x",
        })
      ).status,
      401,
    );

    await waitFor(
      "the brokers to log the sessions' ends",
      () => hub.broker.size === 0 && plain.broker.size === 0,
    );
    assert.ok(
      logger.lines.some((l) => l.level === "debug"),
      "refusals were logged at debug level",
    );
    assertNotLogged(logger.lines, tokens);
  });

  it("logs none from a bad absolute-form request target, and answers it 400", async () => {
    const jwt = await hsSubscriber();
    const answers: string[] = [];
    for (const [base, path] of [
      [hub.base, "/.well-known/mercure"],
      [plain.url, "/events"],
    ] as const) {
      const r = await exchange(
        Number(new URL(base).port),
        `GET http://h:99999${path}?topic=a&authorization=${jwt} HTTP/1.1\r\nHost: h\r\n\r\n`,
      );
      answers.push(`${path} ${r.statuses.join(",")}`);
    }
    assertNotLogged(logger.lines, [jwt]);
    assert.deepEqual(answers, ["/.well-known/mercure 400", "/events 400"]);
  });
});

describe("cookie publishes from another origin (CSRF)", () => {
  const cookie = async () => `mercureAuthorization=${await hsPublisher()}`;
  const cases: { name: string; headers: () => Promise<Record<string, string>>; status: number }[] = [
    {
      name: "cookie, Origin https://evil.example",
      headers: async () => ({ Cookie: await cookie(), Origin: "https://evil.example" }),
      status: 403,
    },
    {
      name: "cookie, neither Origin nor Referer",
      headers: async () => ({ Cookie: await cookie() }),
      status: 403,
    },
    {
      name: "cookie, Origin null and no Referer",
      headers: async () => ({ Cookie: await cookie(), Origin: "null" }),
      status: 403,
    },
    {
      name: "cookie, Referer on evil.example",
      headers: async () => ({ Cookie: await cookie(), Referer: "https://evil.example/page" }),
      status: 403,
    },
    {
      name: "cookie, Origin evil.example with a listed Referer",
      headers: async () => ({
        Cookie: await cookie(),
        Origin: "https://evil.example",
        Referer: "https://app.example/",
      }),
      status: 403,
    },
    {
      name: "cookie, an Origin that only starts like the listed one",
      headers: async () => ({ Cookie: await cookie(), Origin: "https://app.example.evil.example" }),
      status: 403,
    },
    {
      name: "cookie, the listed Origin (control)",
      headers: async () => ({ Cookie: await cookie(), Origin: "https://app.example" }),
      status: 200,
    },
    {
      name: "bearer header from evil.example (not ambient, so no CSRF; control)",
      headers: async () => ({
        Authorization: `Bearer ${await hsPublisher()}`,
        Origin: "https://evil.example",
      }),
      status: 200,
    },
  ];

  it("refuses every cookie-authenticated publish not from a listed origin with 403, and publishes none of them", async () => {
    const topic = "https://example.com/csrf";
    const sub = await connectSse(subscribeUrl(hs.hub, [topic]));
    try {
      for (const c of cases) {
        const r = await publishForm(
          hs.hub,
          [
            ["topic", topic],
            ["data", c.name],
          ],
          null,
          await c.headers(),
        );
        assert.equal(r.status, c.status, `${c.name}: ${r.body}`);
        if (c.status === 403) assert.equal(errorCode(r), "SSEB_ERR_AUTH_FORBIDDEN", c.name);
      }
      const end = await publishForm(
        hs.hub,
        [
          ["topic", topic],
          ["data", "end"],
        ],
        await hsPublisher(),
      );
      assert.equal(end.status, 200);
      await until(sub, "end");
      assert.deepEqual(
        sub.events.map((e) => e.data),
        [...cases.filter((c) => c.status === 200).map((c) => c.name), "end"],
      );
    } finally {
      sub.close();
    }
  });

  it("answers a publish preflight from another origin without CORS permission", async () => {
    const r = await httpRequest(hs.hub, {
      method: "OPTIONS",
      headers: {
        Origin: "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    assert.ok(r.status < 300, `status ${r.status}`);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
    assert.equal(r.headers["access-control-allow-credentials"], undefined);
  });
});

describe("the static publish token of POST /publish", () => {
  const TOKEN = "static-publish-token-0123456789abcdef";
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ publishToken: TOKEN });
  });
  after(() => srv?.close());

  const post = (headers: Record<string, string>, query = "", data = "x") =>
    fetch(`${srv.url}/publish${query}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ topic: "static", data }),
    });
  const cases: { name: string; headers: Record<string, string>; query?: string; status: number }[] = [
    { name: "no Authorization", headers: {}, status: 401 },
    { name: "a wrong token", headers: { Authorization: "Bearer wrong-token" }, status: 401 },
    {
      name: "the token plus junk after a space",
      headers: { Authorization: `Bearer ${TOKEN} junk` },
      status: 401,
    },
    { name: "the token plus junk", headers: { Authorization: `Bearer ${TOKEN}junk` }, status: 401 },
    {
      name: "a prefix of the token",
      headers: { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      status: 401,
    },
    { name: "Bearer alone", headers: { Authorization: "Bearer" }, status: 401 },
    { name: "the token without a scheme", headers: { Authorization: TOKEN }, status: 401 },
    {
      name: "the token as Basic credentials",
      headers: { Authorization: `Basic ${Buffer.from(`${TOKEN}:`).toString("base64")}` },
      status: 401,
    },
    {
      name: "the token in the query string only",
      headers: {},
      query: `?authorization=${TOKEN}`,
      status: 401,
    },
    { name: "the token in a cookie only", headers: { Cookie: `mercureAuthorization=${TOKEN}` }, status: 401 },
    { name: "the token (control)", headers: { Authorization: `Bearer ${TOKEN}` }, status: 200 },
  ];
  for (const c of cases) {
    it(`answers ${c.name} with ${c.status}`, async () => {
      const res = await post(c.headers, c.query);
      const body = await res.text();
      assert.equal(res.status, c.status, body);
      if (c.status === 401) assert.equal(JSON.parse(body).error.code, "SSEB_ERR_AUTH_REQUIRED");
    });
  }

  it("publishes nothing for any refused request", async () => {
    const sub = await connectSse(`${srv.url}/events?topic=static`);
    try {
      for (const c of cases) await (await post(c.headers, c.query, c.name)).text();
      const end = await post({ Authorization: `Bearer ${TOKEN}` }, "", "end");
      assert.equal(end.status, 200);
      await until(sub, "end");
      assert.deepEqual(
        sub.events.map((e) => e.data),
        [...cases.filter((c) => c.status === 200).map((c) => c.name), "end"],
      );
    } finally {
      sub.close();
    }
  });

  it("sends a Bearer challenge (WWW-Authenticate) with its 401s, as RFC 6750 requires", async () => {
    const res = await post({ Authorization: "Bearer wrong-token" });
    await res.text();
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer\b/);
  });
});
