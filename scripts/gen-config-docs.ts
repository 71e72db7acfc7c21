/**
 * `npm run docs:config`: writes docs/configuration.md from the option table (see config-doc.ts).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CONFIG_DOC_PATH, formattedConfigDoc } from "./config-doc.js";

const path = fileURLToPath(new URL(`../${CONFIG_DOC_PATH}`, import.meta.url));
writeFileSync(path, formattedConfigDoc());
process.stdout.write(`wrote ${CONFIG_DOC_PATH}\n`);
