/**
 * docs/configuration.md is generated from the option table: the committed page must be what
 * `npm run docs:config` writes now, and it lists every flag with all its environment variables.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { CONFIG_DOC_PATH, formattedConfigDoc, renderConfigDoc } from "../../scripts/config-doc.js";
import { OPTIONS, type OptionSpec } from "../../src/cli/option-specs.js";

const committed = readFileSync(new URL(`../../${CONFIG_DOC_PATH}`, import.meta.url), "utf8");

describe(CONFIG_DOC_PATH, () => {
  it("is up to date with src/cli/option-specs.ts", () => {
    assert.ok(
      committed === formattedConfigDoc(),
      `${CONFIG_DOC_PATH} is out of date: run \`npm run docs:config\` and commit the result`,
    );
  });

  it("has one row per option, with its flag, every environment variable and its default", () => {
    const rows = renderConfigDoc()
      .split("\n")
      .filter((l) => l.startsWith("| `"));
    assert.equal(rows.length, OPTIONS.length);
    for (const o of OPTIONS) {
      const row = rows.find((r) => r.includes(`\`--${o.name}\``) || r.includes(`\`--${o.name} <`));
      assert.ok(row !== undefined, `--${o.name} has a row`);
      for (const e of o.env ?? []) assert.ok(row.includes(e), `--${o.name}: ${e}`);
      if (o.default !== undefined)
        assert.ok(row.includes(o.default.replace(/\|/g, "\\|")), `--${o.name}: default`);
    }
  });

  it("escapes what would break a table row", () => {
    const tricky: OptionSpec = { name: "x", group: "Other", arg: "A|B", help: "a | b\nc", default: "p|q" };
    const row = renderConfigDoc([tricky])
      .split("\n")
      .find((l) => l.startsWith("| `"));
    assert.equal(row, "| `--x <A\\|B>` |  | p\\|q | a \\| b c |");
  });
});
