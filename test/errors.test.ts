import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ErrorCodes, SseBrokerError } from "../src/errors.js";

const root = new URL("..", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("error catalogue", () => {
  it("documents every code in docs/errors.md", () => {
    const doc = readFileSync(join(root, "docs/errors.md"), "utf8");
    for (const code of Object.keys(ErrorCodes))
      assert.ok(doc.includes(`\`${code}\``), `${code} undocumented`);
  });

  it("uses no code in src/ that the catalogue lacks", () => {
    const known = new Set(Object.keys(ErrorCodes));
    for (const file of sources(join(root, "src"))) {
      for (const [code] of readFileSync(file, "utf8").matchAll(/SSEB_ERR_[A-Z_]*[A-Z]/g)) {
        assert.ok(known.has(code), `${code} used in ${file} is not in ErrorCodes`);
      }
    }
  });

  it("recognises errors by brand, not by class identity", () => {
    const err = new SseBrokerError("SSEB_ERR_TOPIC_INVALID", "x", { statusCode: 400 });
    assert.ok(err instanceof SseBrokerError);
    assert.ok(err instanceof Error);
    const lookalike = Object.assign(new Error("x"), { [Symbol.for("sse-broker.error")]: true });
    assert.ok(lookalike instanceof SseBrokerError);
    assert.ok(!(new Error("x") instanceof SseBrokerError));
  });
});
