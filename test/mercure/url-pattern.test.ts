/**
 * The URL-pattern cost check (draft-08 §URL Pattern, "URL-Pattern Denial of Service"): common patterns pass
 * and match as URL Pattern says; patterns whose RegExp could backtrack badly are refused before use.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseBrokerError } from "../../src/errors.js";
import { compileUrlPattern } from "../../src/mercure/url-pattern.js";

const BASE = "https://hub.example/.well-known/mercure";
const limits = { allowRegExpGroups: false };

describe("compileUrlPattern", () => {
  const accepted: [pattern: string, matching: string, notMatching: string][] = [
    ["https://example.com/books/:id", "https://example.com/books/1", "https://example.com/books/1/x"],
    ["/books/:id", "/books/1", "/authors/1"],
    [
      "https://example.com/users/:uid/books/:bid",
      "https://example.com/users/1/books/2",
      "https://example.com/users/1",
    ],
    ["https://example.com/users/42/*", "https://example.com/users/42/a/b", "https://example.com/users/43/a"],
    ["https://*.example.com/:a", "https://eu.example.com/x", "https://example.org/x"],
    ["https://example.com/books/:id?", "https://example.com/books", "https://example.com/authors"],
    ["https://example.com/files/:path+", "https://example.com/files/a/b/c", "https://example.com/files"],
    [
      "https://example.com/docs{/:lang}?/:page",
      "https://example.com/docs/fr/intro",
      "https://example.com/docs/fr/de/intro",
    ],
    ["https://example.com/:a-:b", "https://example.com/x-y", "https://example.com/xy"],
  ];
  for (const [p, yes, no] of accepted) {
    it(`accepts ${p}`, () => {
      const m = compileUrlPattern(p, BASE, limits);
      assert.equal(m.prefix, "");
      assert.equal(m.matches(yes), true, yes);
      assert.equal(m.matches(no), false, no);
    });
  }

  const refused: [pattern: string, code: string][] = [
    ["https://example.com/*-*-*-x", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/*/:a-:b", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/?q=:a-:b-:c", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://:a-:b-:c.example.com/", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/:a+-:b+x", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/**", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/{x:a}*", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/{a}?{b}?{c}?{d}?{e}?", "SSEB_ERR_LIMIT_SELECTOR"],
    ["https://example.com/:id(\\d+)", "SSEB_ERR_MERCURE_MATCHER_INVALID"],
    ["https://example.com/(", "SSEB_ERR_MERCURE_MATCHER_INVALID"],
  ];
  for (const [p, code] of refused) {
    it(`refuses ${p} with ${code}`, () => {
      assert.throws(
        () => compileUrlPattern(p, BASE, limits),
        (err: unknown) => err instanceof SseBrokerError && err.code === code && err.statusCode === 400,
      );
    });
  }

  it("accepts regexp groups when allowed, and a topic that is no URL matches nothing", () => {
    const m = compileUrlPattern("https://example.com/n/:id(\\d+)", BASE, { allowRegExpGroups: true });
    assert.equal(m.matches("https://example.com/n/12"), true);
    assert.equal(m.matches("https://example.com/n/ab"), false);
    assert.equal(compileUrlPattern("https://example.com/*", BASE, limits).matches("http://[::1"), false);
  });
});
