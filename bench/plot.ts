/**
 * Renders the PNG plots of a saved comparison run: `npm run bench:plot -- <results.json> [--out docs/img]`.
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { CompareResults } from "./lib/compare-results.js";
import { renderPlots } from "./lib/plots.js";

const { values, positionals } = parseArgs({
  options: { out: { type: "string", default: "docs/img" } },
  allowPositionals: true,
});
const file = positionals[0];
if (file === undefined) throw new Error("usage: npm run bench:plot -- <results.json> [--out DIR]");
const results = JSON.parse(readFileSync(resolve(file), "utf8")) as CompareResults;
const files = await renderPlots(results, resolve(String(values.out)));
console.log(files.join("\n"));
