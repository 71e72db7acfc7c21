import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertSelector, assertTopic, isPatternSelector, TopicMatcher } from "../../src/core/topic.js";

describe("TopicMatcher", () => {
  const m = new TopicMatcher();
  const cases: [string, string, boolean][] = [
    ["*", "anything", true],
    ["news", "news", true],
    ["news", "news2", false],
    ["https://example.com/books/{id}", "https://example.com/books/1", true],
    ["https://example.com/books/{id}", "https://example.com/books/1/x", false],
    ["https://example.com/books/{id}", "https://example.com/authors/1", false],
    ["https://example.com/{+path}", "https://example.com/a/b/c", true],
    ["https://example.com/books/{id}", "https://example.com/books/{id}", true],
    // Consecutive optional path segments may all be absent (the Mercure subscriptions selector).
    [
      "https://h/.well-known/mercure/subscriptions{/topic}{/subscriber}",
      "https://h/.well-known/mercure/subscriptions",
      true,
    ],
    [
      "https://h/.well-known/mercure/subscriptions{/topic}{/subscriber}",
      "https://h/.well-known/mercure/subscriptions/a/b",
      true,
    ],
    ["/books{?q}", "/books", true],
    ["/books/{id}{?x,y}", "/books/1?x=1&y=2", true],
    ["https://example.com/books/{id}.jsonld", "https://example.com/books/1.jsonld", true],
    ["https://example.com/{a}/{b}", "https://example.com/1", false],
    // A simple expansion never produces a space.
    ["/{id}", "/a b", false],
  ];
  for (const [selector, topic, expected] of cases) {
    it(`${expected ? "matches" : "does not match"} ${topic} with ${selector}`, () => {
      assert.equal(m.matches(selector, topic), expected);
      assert.equal(m.matches(selector, topic), expected, "cached answer is the same");
    });
  }

  it("keeps answering correctly after its cache turns over", () => {
    const small = new TopicMatcher(4);
    for (let i = 0; i < 20; i++) assert.equal(small.matches("/t/{id}", `/t/${i}`), true);
    assert.equal(small.matches("/t/{id}", "/u/1"), false);
  });

  it("matches any of several selectors against any of several topics", () => {
    assert.equal(m.matchesAny(["a", "/x/{y}"], ["b", "/x/1"]), true);
    assert.equal(m.matchesAny(["a"], ["b"]), false);
  });
});

describe("topic validation", () => {
  for (const bad of ["", "a\nb", "a\u0000", "x".repeat(2049)]) {
    it(`rejects ${JSON.stringify(bad.slice(0, 12))} with SSEB_ERR_TOPIC_INVALID`, () => {
      assert.throws(() => assertTopic(bad), { code: "SSEB_ERR_TOPIC_INVALID", statusCode: 400 });
    });
  }
  it("rejects an unparsable URI template selector", () => {
    assert.throws(() => assertSelector("/books/{id"), { code: "SSEB_ERR_TOPIC_INVALID" });
  });
  it("tells patterns from exact topics", () => {
    assert.equal(isPatternSelector("*"), true);
    assert.equal(isPatternSelector("/a/{b}"), true);
    assert.equal(isPatternSelector("/a/b"), false);
  });
});
