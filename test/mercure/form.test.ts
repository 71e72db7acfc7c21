import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseForm, publishInputOf } from "../../src/mercure/form.js";
import { encodeSegment, subscriptionId } from "../../src/mercure/paths.js";

describe("publish form decoding", () => {
  it("decodes + as space, percent-escapes as UTF-8, and keeps repeated fields in order", () => {
    const f = parseForm("topic=a&topic=b%2Fc&data=h%C3%A9llo+world&private&type=");
    assert.deepEqual(f.get("topic"), ["a", "b/c"]);
    assert.deepEqual(f.get("data"), ["héllo world"]);
    assert.deepEqual(f.get("private"), [""]);
    assert.deepEqual(f.get("type"), [""]);
  });

  it("turns fields into a publish input: first topic canonical, private by presence, empty = absent", () => {
    const input = publishInputOf(parseForm("topic=a&topic=b&data=d&private=&type=&id=&retry=10"));
    assert.deepEqual(input, {
      topic: ["a", "b"],
      data: "d",
      id: undefined,
      type: undefined,
      retry: 10,
      private: true,
    });
    assert.equal(publishInputOf(parseForm("topic=a")).data, "", "data is optional");
    assert.equal(publishInputOf(parseForm("topic=a")).private, false);
  });

  it("throws 400 on malformed escapes, a missing topic, a bad retry or a #-id", () => {
    for (const body of [
      "topic=%",
      "topic=%G1",
      "topic=%C3",
      "data=x",
      "topic=a&retry=1.5",
      "topic=a&retry=1e3",
      "topic=a&id=%23x",
    ]) {
      assert.throws(() => publishInputOf(parseForm(body)), { statusCode: 400 }, body);
    }
  });
});

describe("subscription URLs", () => {
  it("percent-encodes like RFC 6570 simple expansion, including !'()*", () => {
    assert.equal(
      encodeSegment("https://ex.com/a b?c=(1)!*'"),
      "https%3A%2F%2Fex.com%2Fa%20b%3Fc%3D%281%29%21%2A%27",
    );
    assert.equal(encodeSegment("A-z_0.9~"), "A-z_0.9~");
    assert.equal(
      subscriptionId("https://example.com/books/{id}", "urn:uuid:1"),
      "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D/urn%3Auuid%3A1",
    );
  });
});
