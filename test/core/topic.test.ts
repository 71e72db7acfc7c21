import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertTopic, compileSelector, isPatternSelector, TopicMatcher } from "../../src/core/topic.js";

const LIMITS = { maxSelectorLength: 1024, maxTemplateExpressions: 8 };

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
    const small = new TopicMatcher({}, 4);
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
    assert.throws(() => compileSelector("/books/{id", LIMITS), { code: "SSEB_ERR_TOPIC_INVALID" });
  });
  it("refuses selectors over the bounds with SSEB_ERR_LIMIT_SELECTOR or a too long one", () => {
    assert.throws(() => compileSelector("/a/{x}".repeat(9), LIMITS), {
      code: "SSEB_ERR_LIMIT_SELECTOR",
      statusCode: 400,
    });
    assert.throws(() => compileSelector(`{${"a,".repeat(8)}a}`, LIMITS), { code: "SSEB_ERR_LIMIT_SELECTOR" });
    assert.throws(() => compileSelector("{/a,b,c,d,e,f,g,h}".repeat(2), LIMITS), /too complex/);
    compileSelector("{a}".repeat(5), LIMITS);
    assert.throws(() => compileSelector("{a}".repeat(6), LIMITS), /too complex/);
    assert.throws(() => compileSelector(`/${"x".repeat(1024)}`, LIMITS), { code: "SSEB_ERR_TOPIC_INVALID" });
    compileSelector("/a/{x}".repeat(8), LIMITS);
  });
  it("treats a token's invalid template as a plain string, as the reference hub does", () => {
    const m = new TopicMatcher();
    assert.equal(m.matches("/books/{id", "/books/{id"), true);
    assert.equal(m.matches("/books/{id", "/books/1"), false);
  });
  it("tells patterns from exact topics", () => {
    assert.equal(isPatternSelector("*"), true);
    assert.equal(isPatternSelector("/a/{b}"), true);
    assert.equal(isPatternSelector("/a/b"), false);
  });
});
