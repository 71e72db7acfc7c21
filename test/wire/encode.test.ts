/**
 * Wire format: whatever src/wire/encode.ts writes, an independent SSE parser (eventsource-parser, which
 * follows the WHATWG algorithm) must read back as the same events, however the bytes are chunked.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createParser } from "eventsource-parser";
import fc from "fast-check";
import { SseBrokerError } from "../../src/errors.js";
import {
  encodeComment,
  encodeEvent,
  encodeEventText,
  encodeRetry,
  type SseEvent,
} from "../../src/wire/encode.js";

type Parsed =
  | { kind: "event"; id: string | undefined; event: string | undefined; data: string }
  | { kind: "retry"; value: number }
  | { kind: "comment"; text: string };

/** Feeds `bytes` to a fresh parser in the given chunks, decoding UTF-8 as a streaming client does. */
function parse(bytes: Buffer, cuts: readonly number[] = []): Parsed[] {
  const out: Parsed[] = [];
  const errors: Error[] = [];
  const parser = createParser({
    onEvent: (e) => out.push({ kind: "event", id: e.id, event: e.event, data: e.data }),
    onRetry: (value) => out.push({ kind: "retry", value }),
    onComment: (text) => out.push({ kind: "comment", text }),
    onError: (err) => errors.push(err),
  });
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue;
    parser.feed(decoder.decode(bytes.subarray(at, cut), { stream: true }));
    at = cut;
  }
  parser.feed(decoder.decode(bytes.subarray(at)));
  assert.deepEqual(errors, [], "the parser reported no errors");
  return out;
}

/** What a conforming client must see for `ev`: line endings become LF, an empty event type means default. */
function expected(ev: SseEvent): Parsed[] {
  const out: Parsed[] = [];
  if (ev.retry !== undefined) out.push({ kind: "retry", value: ev.retry });
  out.push({
    kind: "event",
    id: ev.id,
    event: ev.event === "" ? undefined : ev.event,
    data: ev.data.replace(/\r\n|\r/g, "\n"),
  });
  return out;
}

function concat(events: readonly SseEvent[]): Buffer {
  return Buffer.concat(events.map(encodeEvent));
}

// Pieces chosen to hit the encoder's edge cases far more often than uniform unicode would.
const tricky = fc.constantFrom(
  "\r",
  "\n",
  "\r\n",
  "\n\r",
  "\r\r",
  "\n\n",
  " ",
  "  ",
  ":",
  ":comment",
  "id: x",
  "id:",
  "data: y",
  "event: z",
  "retry: 5",
  "\0",
  "\uFEFF",
  "é",
  "😀",
  "",
);
/** Unicode text (valid code points: UTF-8 cannot carry lone surrogates) mixed with tricky pieces. */
const text = fc
  .array(fc.oneof(tricky, fc.string({ unit: "binary" })), { maxLength: 8 })
  .map((p) => p.join(""));
/** Single-line field values: no CR, LF or NUL. */
const fieldValue = fc
  .array(fc.oneof(fc.constantFrom(" ", ":", "id: x", "é", "😀", ""), fc.string({ unit: "binary" })), {
    maxLength: 4,
  })
  .map((p) => p.join("").replace(/[\r\n\0]/g, ""));

const event: fc.Arbitrary<SseEvent> = fc.record(
  {
    data: text,
    id: fieldValue,
    event: fieldValue,
    retry: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
  },
  { requiredKeys: ["data"] },
);
/** Byte offsets at which to split the stream. */
const cuts = fc.array(fc.nat({ max: 4096 }), { maxLength: 12 });

describe("encodeEvent round-trips through an independent parser", () => {
  it("decodes arbitrary data, including CR, LF, CRLF, empty and field-like lines", () => {
    fc.assert(
      fc.property(text, (data) => {
        assert.deepEqual(parse(encodeEvent({ data })), expected({ data }));
      }),
      { numRuns: 500 },
    );
  });

  it("decodes id, event and retry when the values have no CR, LF or NUL", () => {
    fc.assert(
      fc.property(event, (ev) => {
        assert.deepEqual(parse(encodeEvent(ev)), expected(ev));
      }),
      { numRuns: 500 },
    );
  });

  it("decodes a sequence of events split at arbitrary byte boundaries", () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 6 }), cuts, (events, at) => {
        const bytes = concat(events);
        assert.deepEqual(
          parse(
            bytes,
            at.map((c) => c % (bytes.length + 1)),
          ),
          events.flatMap(expected),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("decodes a stream split into single bytes", () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 3 }), (events) => {
        const bytes = concat(events);
        const every = Array.from({ length: bytes.length }, (_, i) => i);
        assert.deepEqual(parse(bytes, every), events.flatMap(expected));
      }),
      { numRuns: 100 },
    );
  });

  it("keeps the text and Buffer encodings identical", () => {
    fc.assert(
      fc.property(event, (ev) => {
        assert.equal(encodeEvent(ev).toString("utf8"), encodeEventText(ev));
      }),
    );
  });
});

describe("encodeComment", () => {
  it("is a comment the parser reports line by line and never dispatches as an event", () => {
    fc.assert(
      fc.property(text, (t) => {
        const lines = t.split(/\r\n|\r|\n/);
        assert.deepEqual(
          parse(encodeComment(t)),
          lines.map((l) => ({ kind: "comment", text: l })),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("does not disturb the events around it", () => {
    fc.assert(
      fc.property(event, text, event, cuts, (a, c, b, at) => {
        const bytes = Buffer.concat([encodeEvent(a), encodeComment(c), encodeEvent(b)]);
        const events = parse(bytes, at).filter((p) => p.kind !== "comment");
        assert.deepEqual(events, [...expected(a), ...expected(b)]);
      }),
      { numRuns: 200 },
    );
  });

  it("encodes the heartbeat as a bare colon line", () => {
    assert.equal(encodeComment().toString(), ":\n\n");
  });
});

describe("encodeRetry", () => {
  it("sets the reconnection time without dispatching an event", () => {
    fc.assert(
      fc.property(fc.nat(), (ms) => {
        assert.deepEqual(parse(encodeRetry(ms)), [{ kind: "retry", value: ms }]);
      }),
    );
  });
});

describe("exact frames", () => {
  it("writes the seed demo's frame for data without id: data:<json> and a blank line", () => {
    const json = JSON.stringify({
      timestamp: 1764121508,
      message: "the time is Thu, 26 Nov 2026 01:45:08 UTC",
    });
    assert.equal(encodeEvent({ data: json }).toString("utf8"), `data:${json}\n\n`);
  });

  const table: [string, SseEvent, string][] = [
    ["empty data", { data: "" }, "data:\n\n"],
    ["a leading space kept by doubling it", { data: " x" }, "data:  x\n\n"],
    ["CRLF split into data lines", { data: "a\r\nb\rc\nd" }, "data:a\ndata:b\ndata:c\ndata:d\n\n"],
    ["a trailing line break as an empty data line", { data: "a\n" }, "data:a\ndata:\n\n"],
    ["an empty id that resets the last event id", { id: "", data: "x" }, "id:\ndata:x\n\n"],
    [
      "id, event and retry before data",
      { id: "7", event: "tick", retry: 0, data: "x" },
      "id:7\nevent:tick\nretry:0\ndata:x\n\n",
    ],
  ];
  for (const [name, ev, frame] of table) {
    it(`writes ${name}`, () => {
      assert.equal(encodeEventText(ev), frame);
    });
  }
});

describe("invalid fields", () => {
  const bad = ["\r", "\n", "\r\n", "\0", "a\nid: injected", "x\ry", "nul\0here"];
  for (const field of ["id", "event"] as const) {
    for (const value of bad) {
      it(`throws SSEB_ERR_WIRE_FIELD_INVALID when ${field} is ${JSON.stringify(value)}`, () => {
        assert.throws(() => encodeEvent({ data: "x", [field]: value }), isWireFieldError);
      });
    }
  }
  for (const retry of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
    it(`throws SSEB_ERR_WIRE_FIELD_INVALID when retry is ${retry}`, () => {
      assert.throws(() => encodeEvent({ data: "x", retry }), isWireFieldError);
      assert.throws(() => encodeRetry(retry), isWireFieldError);
    });
  }
});

function isWireFieldError(err: unknown): boolean {
  assert.ok(err instanceof SseBrokerError, "an SseBrokerError");
  assert.equal(err.code, "SSEB_ERR_WIRE_FIELD_INVALID");
  assert.equal(err.statusCode, 400);
  return true;
}
