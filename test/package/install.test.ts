/**
 * The package as a user gets it: `npm pack` (of the build `npm test` just made), installed into an empty
 * project with the adapters' peer dependencies at our locked versions, then `npx sse-broker --help`, a
 * library import and every entry of the installed package's `exports` map, each in a fresh node process.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const INSTALL_TIMEOUT_MS = 240_000;

interface PackageJson {
  name: string;
  version: string;
  bin: Record<string, string>;
  exports: Record<string, { types?: string; default?: string }>;
  peerDependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string }>;
};

/** Every file under `dir`, as paths relative to ROOT with forward slashes. */
function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split("\\").join("/"));
}

/** `node --input-type=module -e CODE` in the project; its stdout. */
async function nodeModule(cwd: string, code: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", code], {
    cwd,
    timeout: 30_000,
  });
  return stdout;
}

describe("the packed package", { timeout: INSTALL_TIMEOUT_MS + 120_000 }, () => {
  let tmp = "";
  let app = "";
  let packed: string[] = [];
  let tarball = "";

  before(async () => {
    assert.ok(existsSync(join(ROOT, "dist/index.js")), "dist/ is missing: run `npm run build` first");
    tmp = mkdtempSync(join(tmpdir(), "sse-broker-pack-"));
    // --ignore-scripts: prepack would build again; `npm test` built dist/ already.
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(info !== undefined);
    packed = info.files.map((f) => f.path);
    tarball = join(tmp, info.filename);
    app = join(tmp, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    // The adapters' peers at the versions we test with, so every adapter entry can load.
    const peers = Object.keys(pkg.peerDependencies).map((name) => {
      const version = lock.packages[`node_modules/${name}`]?.version;
      assert.ok(version !== undefined, `${name} is in package-lock.json`);
      return `${name}@${version}`;
    });
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, ...peers], {
      cwd: app,
      timeout: INSTALL_TIMEOUT_MS,
    });
  });
  after(() => {
    if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
  });

  it("ships the build, the bin and the web assets, without sources, tests or source maps", () => {
    for (const f of [
      "package.json",
      "README.md",
      "dist/index.js",
      "dist/index.d.ts",
      pkg.bin["sse-broker"],
    ]) {
      assert.ok(packed.includes((f ?? "").replace(/^\.\//, "")), `${f} is in the tarball`);
    }
    for (const f of filesUnder("web")) assert.ok(packed.includes(f), `${f} is in the tarball`);
    const unwanted = packed.filter(
      (f) =>
        /^(src|test|bench|scripts|docs|node_modules|\.ci)\//.test(f) ||
        /\.map$/.test(f) ||
        (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) ||
        /(^|\/)\.(build-stamp|npmrc|git)/.test(f) ||
        /^tsconfig/.test(f),
    );
    assert.deepEqual(unwanted, []);
  });

  it("npx sse-broker --help exits 0 and prints the usage", async () => {
    const { stdout } = await run("npx", ["--no-install", "sse-broker", "--help"], {
      cwd: app,
      timeout: 30_000,
    });
    assert.match(stdout, /^Usage: sse-broker \[options\]$/m);
    assert.match(stdout, /--port <N>/);
  });

  it("the library imports and runs: a broker publishes and closes", async () => {
    const out = await nodeModule(
      app,
      `import { createBroker } from "sse-broker";
       const broker = createBroker({ demoRoutes: false });
       await broker.ready();
       const id = await broker.publish({ topic: "t", data: "x", type: "created" });
       await broker.close();
       console.log(typeof id);`,
    );
    assert.equal(out.trim(), "string");
  });

  it("every entry of the installed exports map imports in its own process and has its types", async () => {
    const installed = JSON.parse(
      readFileSync(join(app, "node_modules/sse-broker/package.json"), "utf8"),
    ) as PackageJson;
    const entries = Object.entries(installed.exports);
    assert.ok(entries.length >= 6, "the exports map has its entries");
    for (const [key, target] of entries) {
      const specifier = key === "." ? installed.name : `${installed.name}/${key.replace(/^\.\//, "")}`;
      const out = await nodeModule(
        app,
        `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).length);`,
      );
      assert.ok(Number(out.trim()) > 0, `${specifier} exports something`);
      assert.ok(target.types !== undefined, `${specifier} declares types`);
      assert.ok(
        existsSync(join(app, "node_modules/sse-broker", target.types)),
        `${specifier}: ${target.types} exists`,
      );
    }
  });
});
