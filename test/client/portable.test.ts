/**
 * The client runs in browsers: its modules import only each other, the error catalogue (itself import-free)
 * and eventsource-parser, never a `node:` module or another part of the broker; the built package entry
 * `sse-broker/client` loads in Node.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = new URL("../..", import.meta.url).pathname;
const IMPORT = /(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g;

describe("client portability", () => {
  it("imports nothing Node-only", () => {
    const dir = join(root, "src/client");
    const allowed = new Set(["eventsource-parser", "../errors.js"]);
    for (const name of readdirSync(dir)) {
      const text = readFileSync(join(dir, name), "utf8");
      for (const [, spec] of text.matchAll(IMPORT)) {
        assert.ok(spec?.startsWith("./") || allowed.has(spec as string), `${name} imports ${spec}`);
      }
      assert.doesNotMatch(text, /\b(?:process|Buffer|require)\b[.(]/, `${name} uses a Node global`);
    }
    assert.doesNotMatch(readFileSync(join(root, "src/errors.ts"), "utf8"), /^import /m);
  });

  it("exports ./client from the package (types and default)", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.deepEqual(pkg.exports["./client"], {
      types: "./dist/client/index.d.ts",
      default: "./dist/client/index.js",
    });
    assert.equal(pkg.dependencies["eventsource-parser"], "3.1.1");
  });

  it("loads as sse-broker/client once built", {
    skip: !existsSync(join(root, "dist/client/index.js")) && "run npm run build first",
  }, async () => {
    const m = await import("sse-broker/client" as string);
    assert.equal(typeof m.createClient, "function");
    assert.equal(typeof m.mercureSubscribeUrl, "function");
  });
});
