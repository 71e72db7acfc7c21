/**
 * docs/cli.md stays in step with the options: every flag and every environment variable is documented.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { OPTIONS } from "../../src/cli/option-specs.js";

const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");

describe("docs/cli.md", () => {
  for (const o of OPTIONS) {
    it(`documents --${o.name}${o.env === undefined ? "" : ` and ${o.env.join(", ")}`}`, () => {
      assert.ok(doc.includes(`\`--${o.name}`), `--${o.name}`);
      for (const e of o.env ?? []) assert.ok(doc.includes(e), e);
      if (o.default !== undefined && /^\d+$/.test(o.default)) {
        const row = doc.split("\n").find((l) => l.startsWith("|") && l.includes(`\`--${o.name} `));
        assert.ok(row?.includes(`\`${o.default}\``), `default ${o.default} in the --${o.name} row`);
      }
    });
  }
});
