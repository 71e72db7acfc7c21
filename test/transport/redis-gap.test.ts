import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkTrim, parseStreamInfo, type StreamInfo } from "../../src/transport/redis-gap.js";

/** A stream holding entries `1-0`…`n-0` numbered as added, `first..last` retained. */
function info(first: number | null, last: number, extra: Partial<StreamInfo> = {}): StreamInfo {
  return {
    length: first === null ? 0 : last - first + 1,
    firstId: first === null ? null : `${first}-0`,
    lastGeneratedId: `${last}-0`,
    entriesAdded: last,
    maxDeletedId: "0-0",
    ...extra,
  };
}
const ids = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, n) => `${from + n}-0`);
const redis6 = { entriesAdded: undefined, maxDeletedId: undefined };

describe("checkTrim", () => {
  const cases: [string, Parameters<typeof checkTrim>, "none" | "lost" | "possible", number | undefined][] = [
    ["nothing delivered yet", [{ id: "0-0", count: 0 }, ids(50, 60), info(50, 60)], "none", 60],
    ["not trimmed past the position", [{ id: "10-0", count: 10 }, ids(11, 20), info(5, 30)], "none", 20],
    [
      "trimmed past, the batch follows on",
      [{ id: "10-0", count: 10 }, ids(11, 20), info(11, 30)],
      "none",
      20,
    ],
    ["trimmed past, entries lost", [{ id: "10-0", count: 10 }, ids(15, 20), info(15, 30)], "lost", 20],
    ["lost, batch reaching the end", [{ id: "10-0", count: 10 }, ids(25, 30), info(27, 30)], "lost", 30],
    [
      "trimmed past the whole batch after the read",
      [{ id: "10-0", count: 10 }, ids(11, 20), info(25, 40)],
      "possible",
      undefined,
    ],
    [
      "number of the position unknown",
      [{ id: "10-0", count: undefined }, ids(15, 20), info(15, 30)],
      "possible",
      20,
    ],
    [
      "Redis < 7, not trimmed past",
      [{ id: "10-0", count: undefined }, ids(11, 20), info(5, 30, redis6)],
      "none",
      undefined,
    ],
    [
      "Redis < 7, trimmed past",
      [{ id: "10-0", count: undefined }, ids(11, 20), info(11, 30, redis6)],
      "possible",
      undefined,
    ],
    [
      "XDEL of an unread entry",
      [{ id: "10-0", count: 10 }, ["11-0", "13-0"], info(5, 30, { maxDeletedId: "12-0" })],
      "lost",
      undefined,
    ],
    [
      "XDEL of an entry already read",
      [{ id: "10-0", count: 10 }, ids(11, 20), info(5, 30, { maxDeletedId: "8-0" })],
      "none",
      20,
    ],
    [
      "entry count went back (stream recreated)",
      [{ id: "10-0", count: 500 }, ids(11, 20), info(11, 30)],
      "possible",
      20,
    ],
  ];
  for (const [name, args, gap, count] of cases) {
    it(name, () => {
      const verdict = checkTrim(...args);
      assert.equal(verdict.gap, gap, verdict.reason);
      assert.equal(verdict.count, count);
    });
  }

  it("parses XINFO STREAM as ioredis returns it", () => {
    const reply = [
      "length",
      100,
      "radix-tree-keys",
      1,
      "last-generated-id",
      "9-100",
      "max-deleted-entry-id",
      "0-0",
      "entries-added",
      300,
      "recorded-first-entry-id",
      "9-1",
      "groups",
      0,
      "first-entry",
      ["9-1", ["m", "{}"]],
      "last-entry",
      ["9-100", ["m", "{}"]],
    ];
    assert.deepEqual(parseStreamInfo(reply), {
      length: 100,
      firstId: "9-1",
      lastGeneratedId: "9-100",
      entriesAdded: 300,
      maxDeletedId: "0-0",
    });
    assert.equal(parseStreamInfo(["length", 0, "first-entry", null]).firstId, null);
  });
});
