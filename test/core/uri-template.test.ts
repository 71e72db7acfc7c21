/**
 * The template matcher against an oracle: the regular expression the Mercure reference hub builds for the
 * same template (yosida95/uritemplate's Template.Regexp()), run by V8 on small inputs where backtracking
 * is harmless. Plus the shapes users write, the parse errors, and the limits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { TemplateError, UriTemplate } from "../../src/core/uri-template.js";

const LIMITS = { maxExpressions: 10, maxVariablesPerExpression: 10 };

const UNRESERVED = String.raw`\x2d\x2e\x30-\x39\x41-\x5a\x5f\x61-\x7a\x7e`;
const RESERVED = String.raw`\x21\x23\x24\x26-\x2c\x2f\x3a\x3b\x3d\x3f\x40\x5b\x5d`;
const OPS: Record<string, { first: string; sep: string; named: boolean; reserved: boolean }> = {
  "": { first: "", sep: ",", named: false, reserved: false },
  "+": { first: "", sep: ",", named: false, reserved: true },
  "#": { first: "#", sep: ",", named: false, reserved: true },
  ".": { first: ".", sep: ".", named: false, reserved: false },
  "/": { first: "/", sep: "/", named: false, reserved: false },
  ";": { first: ";", sep: ";", named: true, reserved: false },
  "?": { first: "?", sep: "&", named: true, reserved: false },
  "&": { first: "&", sep: "&", named: true, reserved: false },
};
const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** A transcription of yosida95/uritemplate's expression.regexp / runeClassToRegexp. */
function oracle(template: string): RegExp {
  let src = "^";
  for (const part of template.split(/(\{[^}]*\})/)) {
    if (part === "") continue;
    if (!part.startsWith("{")) {
      src += `(${quote(part)})`;
      continue;
    }
    let body = part.slice(1, -1);
    const opChar = "+#./;?&".includes(body[0] ?? "") ? (body[0] as string) : "";
    body = body.slice(opChar.length);
    const op = OPS[opChar] as (typeof OPS)[string];
    const vars = body.split(",").map((v) => ({ explode: v.endsWith("*") }));
    const cls = (named: boolean): string =>
      `(?:(?:[${op.reserved ? "" : `\\x2c${named ? "\\x3d" : ""}`}${UNRESERVED}${op.reserved ? RESERVED : ""}]|%[0-9A-Fa-f][0-9A-Fa-f])*)`;
    let e = op.first === "" ? "" : `(?:${quote(op.first)}`;
    e += `(${cls(op.named || (vars[0] as { explode: boolean }).explode)}`;
    if (vars.length > 1 || (vars[0] as { explode: boolean }).explode) {
      const max = vars.some((v) => v.explode) ? -1 : vars.length - 1;
      e += `(?:${quote(op.sep)}${cls(op.named || max < 0)})${max > 0 ? `{0,${max}}` : "*"}`;
    }
    e += ")";
    if (op.first !== "") e += ")";
    src += `${e}?`;
  }
  return new RegExp(`${src}$`);
}

const matches = (template: string, topic: string): boolean =>
  new UriTemplate(template, LIMITS).matches(topic);

describe("URI template matching", () => {
  it("matches the shapes Mercure users write", () => {
    assert.ok(matches("https://example.com/books/{id}", "https://example.com/books/1"));
    assert.ok(matches("https://example.com/books/{id}", "https://example.com/books/"));
    assert.ok(!matches("https://example.com/books/{id}", "https://example.com/books/1/reviews"));
    assert.ok(matches("https://example.com/books/{+rest}", "https://example.com/books/1/reviews"));
    assert.ok(matches("https://example.com/{/path*}", "https://example.com//a/b/c"));
    assert.ok(matches("/users/{id}{?fields,limit}", "/users/42?fields=a,b&limit=3"));
    assert.ok(!matches("/users/{id}{?fields}", "/users/42?fields=a&limit=3"));
    assert.ok(matches("/a/{x}/b", "/a/%C3%A9t%C3%A9/b"));
    assert.ok(!matches("/a/{x}/b", "/a/%zz/b"));
    assert.ok(!matches("/a/{x}/b", "/a/é/b"), "classes are ASCII; non-ASCII must be percent-encoded");
    assert.ok(matches("/é/{x}", "/é/1"), "non-ASCII literals match themselves");
    assert.ok(matches("/😀/{x}", "/😀/1"));
    assert.ok(matches("{x}", ""));
    assert.ok(matches("/{x:3}", "/abcdef"), "prefix lengths do not limit a match, as in the reference hub");
    assert.ok(matches("/subscriptions{/topic}{/subscriber}", "/subscriptions"));
    assert.ok(matches("/subscriptions{/topic}{/subscriber}", "/subscriptions/a%2Fb/urn%3Auuid%3A1"));
  });

  it("agrees with the reference hub's regular expression on random templates and topics", () => {
    const lit = fc.constantFrom("a", "b", "/", ".", "%41", ",", "=", "x", "-");
    const name = fc.constantFrom("a", "b", "v1");
    const spec = fc.tuple(name, fc.constantFrom("", "*", ":2")).map(([n, m]) => n + m);
    const expr = fc
      .tuple(
        fc.constantFrom("", "+", "#", ".", "/", ";", "?", "&"),
        fc.array(spec, { minLength: 1, maxLength: 3 }),
      )
      .map(([op, specs]) => `{${op}${specs.join(",")}}`);
    const template = fc
      .array(fc.oneof(lit, expr), { minLength: 1, maxLength: 5 })
      .map((parts) => parts.join(""))
      .filter((t) => t.includes("{"));
    const topicChar = fc.constantFrom(
      "a",
      "b",
      "x",
      "/",
      ".",
      ",",
      "=",
      "&",
      "?",
      ";",
      "#",
      "%",
      "4",
      "1",
      "-",
      "+",
      "!",
    );
    const topic = fc.array(topicChar, { maxLength: 10 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(template, fc.array(topic, { minLength: 1, maxLength: 8 }), (t, topics) => {
        const compiled = new UriTemplate(t, LIMITS);
        const re = oracle(t);
        for (const s of topics) assert.equal(compiled.matches(s), re.test(s), `${t} vs ${JSON.stringify(s)}`);
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with the oracle on topics built from the template itself", () => {
    // Random topics rarely match; expanding literals and plausible values makes half of them match.
    const cases: [string, string][] = [
      ["{#a}x{#b}", "#1x#2"],
      ["{#a}x{#b}", "x"],
      ["{?a,b}", "?a=1&b=2"],
      ["{?a,b}", "?a=1&b=2&c=3"],
      ["{?a*}", "?a=1&b=2&c=3"],
      ["{&a}", "&a=1"],
      ["{;a,b}", ";a=1;b"],
      ["{.a*}", ".x.y.z"],
      ["{/a,b}", "/x/y"],
      ["{/a,b}", "/x/y/z"],
      ["x{a}y{a}z", "x1y2z"],
      ["{a}{b}{c}", "1,2,3"],
    ];
    for (const [t, s] of cases) assert.equal(matches(t, s), oracle(t).test(s), `${t} vs ${s}`);
  });

  it("refuses templates that do not parse", () => {
    for (const t of [
      "/a/{",
      "/a/}",
      "/a/{}",
      "/a/{=x}",
      "/a/{x y}",
      "/a/{x:0}",
      "/a/{x:10000}",
      "/a b/{x}",
      "/a/%zz{x}",
      "/{a..b}",
    ]) {
      assert.throws(() => new UriTemplate(t, LIMITS), TemplateError, t);
    }
  });

  it("bounds the expressions and the variables of a template", () => {
    assert.throws(() => new UriTemplate("{a}".repeat(11), LIMITS), /more than 10 expressions/);
    assert.throws(() => new UriTemplate(`{${"a,".repeat(10)}a}`, LIMITS), /more than 10 variables/);
    new UriTemplate("{#a}x".repeat(10), LIMITS);
  });
});
