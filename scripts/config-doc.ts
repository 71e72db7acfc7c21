/**
 * docs/configuration.md, rendered from the option table (src/cli/option-specs.ts): every flag, its
 * environment variables, default (a broker option's from DEFAULT_BROKER_OPTIONS) and help, by group. One source for parsing, `--help` and this page;
 * `npm run docs:config` writes it, test/cli/config-docs.test.ts fails when the committed file is stale.
 * @module
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { OPTIONS, type OptionSpec } from "../src/cli/option-specs.js";

export const CONFIG_DOC_PATH = "docs/configuration.md";

/** `|` would end a table cell and a newline the row; backticks stay (they are code spans). */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function flag(o: OptionSpec): string {
  const long = `\`--${o.name}${o.arg === undefined ? "" : ` <${o.arg}>`}\``;
  return cell(o.short === undefined ? long : `\`-${o.short}\`, ${long}`);
}

/** A switch's variable is a boolean in the switch's positive sense, as `--help` shows it. */
function env(o: OptionSpec): string {
  if (o.env === undefined) return "";
  const sense = o.arg !== undefined ? "" : o.name.startsWith("no-") ? "=false" : "=true";
  return cell(o.env.map((e) => `\`${e}${sense}\``).join(", "));
}

function defaultValue(o: OptionSpec): string {
  if (o.default === undefined) return o.arg === undefined ? "off" : "";
  return cell(/^[\d*.]+$|^none$/.test(o.default) ? `\`${o.default}\`` : o.default);
}

/**
 * The page as `npm run check` wants it: Biome formats Markdown (it pads table columns), so the generated
 * text goes through the project's own Biome rather than a copy of its table layout rules.
 */
export function formattedConfigDoc(options: readonly OptionSpec[] = OPTIONS): string {
  const biome = fileURLToPath(new URL("../node_modules/.bin/biome", import.meta.url));
  return execFileSync(biome, ["format", `--stdin-file-path=${CONFIG_DOC_PATH}`], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    input: renderConfigDoc(options),
    encoding: "utf8",
  });
}

/** The whole page, unformatted and deterministic: the same table gives the same bytes. */
export function renderConfigDoc(options: readonly OptionSpec[] = OPTIONS): string {
  const groups: string[] = [];
  for (const o of options) if (!groups.includes(o.group)) groups.push(o.group);
  const lines = [
    "# Configuration reference",
    "",
    "<!-- Generated from src/cli/option-specs.ts by `npm run docs:config`: edit the option there, not here",
    "(a broker option's default: DEFAULT_BROKER_OPTIONS in src/options.ts). -->",
    "",
    "Every option of the `sse-broker` command (and of `npm start -- …`), generated from the one table the",
    "command parses and `--help` prints. A flag wins over its environment variables; of several variables",
    "the first one set wins; empty variables are ignored. A switch's variable is a boolean (`true`/`false`,",
    "`1`/`0`, `yes`/`no`, `on`/`off`) in the sense shown. What each option does in detail, with",
    "examples:",
    "[cli.md](cli.md).",
    "",
    `${options.length} options in ${groups.length} groups: ${groups.map((g) => `[${g}](#${anchor(g)})`).join(", ")}.`,
  ];
  for (const g of groups) {
    lines.push("", `## ${g}`, "", "| flag | environment | default | meaning |", "| --- | --- | --- | --- |");
    for (const o of options.filter((x) => x.group === g)) {
      const many = o.multiple === true ? " (repeatable)" : "";
      lines.push(`| ${flag(o)}${many} | ${env(o)} | ${defaultValue(o)} | ${cell(o.help)} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** GitHub's heading anchor for our plain group names. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");
}
