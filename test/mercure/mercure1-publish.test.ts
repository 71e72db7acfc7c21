/**
 * Mercure 1.0 (draft-dunglas-mercure-08) publication rules over real HTTP against a real hub: the reserved
 * hub namespace and event type, character constraints on topic/id/type, `retry` digits, reserved ids,
 * limits answered 413, the text/plain id answer; and the same reservations for classic publishers on a hub
 * serving 1.0 (not on a classic-only hub). Each case names the draft section it comes from.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { errorCode, type Hub, publisherToken, publishForm, startHub } from "./hub-fixture.js";
import { accessToken, grantAll, OAUTH } from "./oauth-fixture.js";

let hub: Hub;
/** hubUrl elsewhere: the reserved namespace follows the hub URL's path. */
let prefixed: Hub;
let classic: Hub;
before(async () => {
  hub = await startHub({ ...OAUTH }, { maxTopicsPerUpdate: 4, maxBodyBytes: 16 * 1024 });
  prefixed = await startHub({ ...OAUTH, hubUrl: "https://hub.example.com/hub" });
  classic = await startHub({ ...OAUTH, protocol: "classic" });
});
after(async () => {
  await hub.close();
  await prefixed.close();
  await classic.close();
});

const OK = "https://example.com/books/1";
const long = (n: number) => "a".repeat(n);

type Fields = [string, string][];
interface Case {
  section: string;
  fields: Fields;
  status: number;
  code?: string;
  on?: () => Hub;
}

async function publish1(h: Hub, fields: Fields) {
  return publishForm(h.hub, fields, await accessToken(grantAll(["publish"])));
}

describe("Mercure 1.0 publish: refused fields (draft-08 §Publication, §Terminology, §Security Considerations)", () => {
  const cases: Case[] = [
    // §Publication + §Reserved Hub Namespace: resolved against the hub URL, normalized, any scheme or host.
    {
      section: "§Publication: the hub URL itself is reserved",
      fields: [["topic", "/.well-known/mercure"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Reserved Hub Namespace: a path under the hub URL (subscription events)",
      fields: [["topic", "/.well-known/mercure/subscriptions/x/y"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Reserved Hub Namespace: an absolute topic on any host, regardless of scheme or authority",
      fields: [["topic", "https://hub.example.com/.well-known/mercure/subscriptions/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Reserved Hub Namespace: a non-special scheme with the hub's path",
      fields: [["topic", "foo:/.well-known/mercure/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Publication: percent-encoded unreserved characters are decoded (%6Dercure)",
      fields: [["topic", "/.well-known/%6Dercure/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Publication: dot segments are removed (mercure/../mercure)",
      fields: [["topic", "/.well-known/mercure/../mercure/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Publication: percent-encoded dot segments are removed too",
      fields: [["topic", "https://example.com/a/%2e%2E/.well-known/mercure/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Publication: a relative reference resolved against the hub URL",
      fields: [["topic", "mercure/subscriptions"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Publication: an alternate topic in the namespace refuses the whole update",
      fields: [
        ["topic", OK],
        ["topic", "/.well-known/mercure/x"],
      ],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Discovery: the namespace follows the hub URL's path",
      fields: [["topic", "https://hub.example.com/hub/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
      on: () => prefixed,
    },
    {
      section: "§Publication: a topic exactly * is reserved for the wildcard matcher",
      fields: [["topic", "*"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Publication: type mercure is reserved for the hub",
      fields: [
        ["topic", OK],
        ["type", "mercure"],
      ],
      status: 400,
      code: "SSEB_ERR_MERCURE_TYPE_RESERVED",
    },
    // §Terminology + §Server-Sent Events Field Injection: C0, DEL, C1 and Cf characters.
    ...(
      [
        ["a C0 control", "\u0001"],
        ["DEL", "\u007f"],
        ["a C1 control (NEL)", "\u0085"],
        ["a Cf zero-width space", "\u200b"],
        ["a Cf bidi override", "\u202e"],
      ] as const
    ).flatMap(([what, c]): Case[] => [
      {
        section: `§Terminology: a topic with ${what}`,
        fields: [["topic", `https://example.com/${c}x`]],
        status: 400,
        code: "SSEB_ERR_MERCURE_FIELD_INVALID",
      },
      {
        section: `§Publication: an id with ${what}`,
        fields: [
          ["topic", OK],
          ["id", `id${c}x`],
        ],
        status: 400,
        code: "SSEB_ERR_MERCURE_FIELD_INVALID",
      },
      {
        section: `§Publication: a type with ${what}`,
        fields: [
          ["topic", OK],
          ["type", `t${c}x`],
        ],
        status: 400,
        code: "SSEB_ERR_MERCURE_FIELD_INVALID",
      },
    ]),
    ...["1e3", "+5", "-1", " 5", "\u0663", "5.0"].map(
      (retry): Case => ({
        section: `§Publication: retry ${JSON.stringify(retry)} is not ASCII digits only`,
        fields: [
          ["topic", OK],
          ["retry", retry],
        ],
        status: 400,
        code: "SSEB_ERR_MERCURE_FIELD_INVALID",
      }),
    ),
    {
      section: "§Publication: an id starting with # is the hub's",
      fields: [
        ["topic", OK],
        ["id", "#42"],
      ],
      status: 400,
      code: "SSEB_ERR_MERCURE_FIELD_INVALID",
    },
    {
      section: "§Publication / §Reconciliation: the id earliest is reserved",
      fields: [
        ["topic", OK],
        ["id", "earliest"],
      ],
      status: 400,
      code: "SSEB_ERR_MERCURE_FIELD_INVALID",
    },
    // §Publication: implementation-defined maximums → 413.
    {
      section: "§Publication: more topic fields than the hub allows → 413",
      fields: ["1", "2", "3", "4", "5"].map((n) => ["topic", `${OK}/${n}`]),
      status: 413,
      code: "SSEB_ERR_LIMIT_TOPICS",
    },
    {
      section: "§Publication: a topic field over the length limit → 413",
      fields: [["topic", `${OK}/${long(2048)}`]],
      status: 413,
      code: "SSEB_ERR_LIMIT_FIELD",
    },
    {
      section: "§Publication: an id over the length limit → 413",
      fields: [
        ["topic", OK],
        ["id", long(2049)],
      ],
      status: 413,
      code: "SSEB_ERR_LIMIT_FIELD",
    },
    {
      section: "§Publication: a type over the length limit → 413",
      fields: [
        ["topic", OK],
        ["type", long(2049)],
      ],
      status: 413,
      code: "SSEB_ERR_LIMIT_FIELD",
    },
    {
      section: "§Publication: a retry over the length limit → 413",
      fields: [
        ["topic", OK],
        ["retry", "1".repeat(16)],
      ],
      status: 413,
      code: "SSEB_ERR_LIMIT_FIELD",
    },
    {
      section: "§Publication: a body over the size limit → 413",
      fields: [
        ["topic", OK],
        ["data", long(17 * 1024)],
      ],
      status: 413,
      code: "SSEB_ERR_BODY_TOO_LARGE",
    },
    // Accepted: what the rules must not catch.
    {
      section: "§Publication: a path only sharing the prefix is not reserved",
      fields: [["topic", "https://example.com/.well-known/mercurex"]],
      status: 200,
    },
    {
      section: "§Publication: an encoded / (reserved, not unreserved) is not decoded",
      fields: [["topic", "/.well-known/mercure%2Fx"]],
      status: 200,
    },
    {
      section: "§Publication: a topic that cannot be parsed as a URL is not refused by the namespace rule",
      fields: [["topic", "http://[not-an-ip"]],
      status: 200,
    },
    {
      section:
        "§Discovery: with another hub URL, /.well-known/mercure stays reserved (the router's own events)",
      fields: [["topic", "/.well-known/mercure/subscriptions/x"]],
      status: 400,
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
      on: () => prefixed,
    },
    {
      section: "§Publication: type compared exactly (Mercure is not the reserved type)",
      fields: [
        ["topic", OK],
        ["type", "Mercure"],
      ],
      status: 200,
    },
    {
      section: "§Publication: retry of ASCII digits",
      fields: [
        ["topic", OK],
        ["retry", "5000"],
      ],
      status: 200,
    },
    {
      section: "§Publication: unknown fields are ignored",
      fields: [
        ["topic", OK],
        ["future", "x"],
        ["data", "d"],
      ],
      status: 200,
    },
  ];

  for (const c of cases) {
    it(c.section, async () => {
      const r = await publish1(c.on?.() ?? hub, c.fields);
      assert.equal(r.status, c.status, r.body);
      if (c.code !== undefined) assert.equal(errorCode(r), c.code);
    });
  }
});

describe("Mercure 1.0 publish: the answer (draft-08 §Publication)", () => {
  it("§Publication: 200 with the given id as the body, text/plain; charset=utf-8", async () => {
    const id = `https://example.com/ids/${crypto.randomUUID()}`;
    const r = await publish1(hub, [
      ["topic", OK],
      ["id", id],
    ]);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(r.body, id);
  });

  it("§Publication: without an id, the body is the IRI the hub generated", async () => {
    const r = await publish1(hub, [["topic", OK]]);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
    assert.match(r.body, /^urn:uuid:[0-9a-f-]{36}$/);
  });

  it("§Publication: a duplicate of a retained id is refused (409, the broker's rule)", async () => {
    const fields: Fields = [
      ["topic", OK],
      ["id", `https://example.com/ids/${crypto.randomUUID()}`],
    ];
    assert.equal((await publish1(hub, fields)).status, 200);
    const r = await publish1(hub, fields);
    assert.equal(r.status, 409, r.body);
    assert.equal(errorCode(r), "SSEB_ERR_ID_CONFLICT");
  });
});

describe("classic publishers on a hub serving Mercure 1.0 (§Reserved Hub Namespace)", () => {
  const cases: { section: string; fields: Fields; code: string }[] = [
    {
      section: "§Reserved Hub Namespace: a classic publish cannot forge the hub's mercure event type",
      fields: [
        ["topic", OK],
        ["type", "mercure"],
      ],
      code: "SSEB_ERR_MERCURE_TYPE_RESERVED",
    },
    {
      section: "§Reserved Hub Namespace: a classic publish cannot forge a subscription event topic",
      fields: [["topic", "/.well-known/mercure/subscriptions/x/y"]],
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
    {
      section: "§Reserved Hub Namespace: nor through an absolute, percent-encoded alternate topic",
      fields: [
        ["topic", OK],
        ["topic", "https://hub.example.com/.well-known/%6Dercure/subscriptions/x"],
      ],
      code: "SSEB_ERR_MERCURE_TOPIC_RESERVED",
    },
  ];
  for (const c of cases) {
    it(`${c.section}: 400 under protocol both, 200 under protocol classic`, async () => {
      const jwt = await publisherToken(["*"]);
      const refused = await publishForm(hub.hub, c.fields, jwt);
      assert.equal(refused.status, 400, refused.body);
      assert.equal(errorCode(refused), c.code);
      const allowed = await publishForm(classic.hub, c.fields, jwt);
      assert.equal(allowed.status, 200, allowed.body);
    });
  }
});
