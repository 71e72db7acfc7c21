/**
 * Serves the demo page and its assets from the web root (a folder in the package, not strings in code).
 * Files are read once and kept: the set is small and fixed.
 * @module
 */
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/** The package's `web/` folder (from both `src/http` and `dist/http`). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

export class StaticFiles {
  readonly #root: string;
  readonly #cache = new Map<string, Buffer | null>();

  constructor(root: string) {
    this.#root = normalize(root.endsWith(sep) ? root : root + sep);
  }

  /** Sends `path` (relative to the root) and returns true, or returns false when there is no such file. */
  serve(res: ServerResponse, path: string, head = false): boolean {
    const file = normalize(join(this.#root, path));
    if (!file.startsWith(this.#root)) return false; // traversal
    const type = TYPES[extname(file)];
    if (type === undefined) return false;
    let body = this.#cache.get(file);
    if (body === undefined) {
      try {
        body = readFileSync(file);
      } catch {
        body = null;
      }
      this.#cache.set(file, body);
    }
    if (body === null) return false;
    res.writeHead(200, { "Content-Type": type, "Content-Length": body.length, "Cache-Control": "no-cache" });
    res.end(head ? undefined : body);
    return true;
  }
}
