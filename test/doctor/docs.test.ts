/**
 * docs/doctor.md and docs/cli.md stay in step with the doctor: every option, and every fix the doctor
 * prints, is documented.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DOCTOR_OPTIONS } from "../../src/doctor/args.js";
import { FIXES } from "../../src/doctor/fixes.js";

const read = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), "utf8");
const doctorDoc = read("doctor.md");
const cliDoc = read("cli.md");
/** Table rows as trimmed cells (the formatter pads them). */
const rows = doctorDoc
  .split("\n")
  .filter((l) => l.startsWith("|"))
  .map((l) =>
    l
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim()),
  );

describe("docs/doctor.md", () => {
  for (const o of DOCTOR_OPTIONS) {
    it(`documents --${o.name} in doctor.md and cli.md`, () => {
      for (const doc of [doctorDoc, cliDoc]) {
        assert.ok(doc.includes(`\`--${o.name}`), `--${o.name}`);
        if (o.env !== undefined) assert.ok(doc.includes(o.env), o.env);
      }
    });
  }
  for (const [kind, fixes] of Object.entries(FIXES)) {
    it(`lists every ${kind} fix`, () => {
      for (const { proxy, fix } of fixes) {
        assert.ok(
          rows.some((r) => r[0] === proxy && r[1] === fix),
          `${kind}: ${proxy}`,
        );
      }
    });
  }
});
