/**
 * What the worst topic selector the default limits allow costs to compile and to match (issue 8,
 * defect 1). Selectors come from anonymous subscribers; this searches for the most expensive one that
 * `compileSelector` accepts with `DEFAULT_BROKER_OPTIONS`, among hand-made adversarial families and random
 * templates, and times it against a realistic topic and against a 2048-character topic built to keep the
 * matcher busy (the longest topic a publisher may use).
 *
 *   node --import tsx bench/selectors.ts [--random 3000] [--ms 100]
 *
 * Timings are medians of batches on this machine (compare them with the 1 ms bound, not across runs).
 * @module
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { compileSelector, MAX_TOPIC_LENGTH, type Selector } from "../src/core/topic.js";
import { DEFAULT_BROKER_OPTIONS } from "../src/options.js";
import { machineInfo } from "./lib/proc.js";

const { values: flags } = parseArgs({
  options: { random: { type: "string", default: "3000" }, ms: { type: "string", default: "100" } },
});
const LIMITS = {
  maxSelectorLength: DEFAULT_BROKER_OPTIONS.maxSelectorLength,
  maxTemplateExpressions: DEFAULT_BROKER_OPTIONS.maxTemplateExpressions,
};
const E = LIMITS.maxTemplateExpressions;
const vars = (n: number, explode = false): string =>
  Array.from({ length: n }, (_, i) => `v${i}${explode ? "*" : ""}`).join(",");

/** Hand-made families: many expressions, exploded and multi-variable ones, long literals, overlaps. */
function families(): string[] {
  const out: string[] = [];
  for (const op of ["", "+", "#", ".", "/", ";", "?", "&"]) {
    for (let n = 1; n <= 8; n++) {
      for (const explode of [false, true]) {
        for (let k = 1; k <= E; k++) {
          const e = `{${op}${vars(n, explode)}}`;
          out.push(e.repeat(k), `${e}x`.repeat(k), `https://example.com/${e}/`.repeat(Math.min(k, 2)));
        }
      }
    }
  }
  for (let k = 1; k <= E; k++) {
    out.push("{+a}a".repeat(k), `{+a}${"a".repeat(900 / k)}`.repeat(k), "{#v}x".repeat(k), "{?a*}".repeat(k));
  }
  out.push(`{+a}${"a".repeat(1000)}`, `${"a".repeat(500)}{+a}${"a".repeat(500)}`);
  return out;
}

function random(n: number): string[] {
  const lit = fc.constantFrom("a", "/", ".", "%41", ",", "=", "x", "-", "aaaaaaaa", "/b/");
  const spec = fc
    .tuple(fc.constantFrom("a", "b", "v1"), fc.constantFrom("", "*", ":2"))
    .map(([name, mod]) => name + mod);
  const expr = fc
    .tuple(
      fc.constantFrom("", "+", "#", ".", "/", ";", "?", "&"),
      fc.array(spec, { minLength: 1, maxLength: 8 }),
    )
    .map(([op, specs]) => `{${op}${specs.join(",")}}`);
  const template = fc.array(fc.oneof(lit, expr), { minLength: 1, maxLength: 16 }).map((p) => p.join(""));
  return fc.sample(template, { numRuns: n, seed: 42 });
}

/** A topic of maximal length that the template's own characters keep partly matching all the way. */
function busyTopic(source: string): string {
  const alphabet = source.replace(/[{}*:0-9,]/g, "") || "a";
  let t = "";
  while (t.length < MAX_TOPIC_LENGTH) t += alphabet;
  return t.slice(0, MAX_TOPIC_LENGTH);
}

/** Median microseconds per call of `fn`, over batches filling about `ms`. */
function time(fn: () => void, ms: number): number {
  for (let i = 0; i < 20; i++) fn();
  const samples: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end || samples.length < 5) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) fn();
    samples.push(((performance.now() - t0) / 10) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1] as number;
}

const REALISTIC = "https://example.com/books/1234/reviews/5678?page=2&sort=desc";
const candidates = [...new Set([...families(), ...random(Number(flags.random))])];
const accepted: string[] = [];
let refused = 0;
for (const c of candidates) {
  try {
    compileSelector(c, LIMITS);
    accepted.push(c);
  } catch {
    refused++;
  }
}

// First a quick pass to rank, then careful timings for the worst few.
const quick = accepted.map((source) => {
  const s = compileSelector(source, LIMITS);
  const busy = busyTopic(source);
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) s.matches(busy);
  return { source, cost: performance.now() - t0 };
});
quick.sort((a, b) => b.cost - a.cost);
const ms = Number(flags.ms);
/** Careful timings of one selector: compile, and match against both topics. */
function measure(source: string): { source: string; compile: number; realistic: number; busy: number } {
  let s: Selector = compileSelector(source, LIMITS);
  const busy = busyTopic(source);
  return {
    source,
    compile: time(() => {
      s = compileSelector(source, LIMITS);
    }, ms),
    realistic: time(() => s.matches(REALISTIC), ms),
    busy: time(() => s.matches(busy), ms),
  };
}
const rows = quick.slice(0, 8).map(({ source }) => measure(source));
const typical = ["https://example.com/books/{id}", "https://example.com/users/{u}/books/{id}{?page}"].map(
  measure,
);

const m = machineInfo();
console.log(`# Topic selector costs (defaults: maxSelectorLength ${LIMITS.maxSelectorLength}, `);
console.log(
  `# maxTemplateExpressions ${E}; ${m.nproc} × ${m.cpu}; node ${m.node}; load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")})\n`,
);
console.log(`candidates ${candidates.length}: accepted ${accepted.length}, refused ${refused}\n`);
console.log("| selector | compile µs | match µs, realistic topic | match µs, 2048-char busy topic |");
console.log("|---|---:|---:|---:|");
const short = (s: string): string => (s.length > 60 ? `${s.slice(0, 57)}… (${s.length} chars)` : s);
for (const r of [...typical, ...rows]) {
  console.log(
    `| \`${short(r.source).replace(/\|/g, "\\|")}\` | ${r.compile.toFixed(1)} | ${r.realistic.toFixed(2)} | ${r.busy.toFixed(1)} |`,
  );
}
const worst = Math.max(...rows.flatMap((r) => [r.compile, r.realistic, r.busy]));
console.log(`\nworst of all: ${worst.toFixed(1)} µs (${worst < 1000 ? "under" : "OVER"} 1 ms)`);
