/**
 * Serves the demo page and its assets from the web root (a folder in the package, not strings in code).
 * The set is loaded once, at construction, and is fixed and bounded: files directly in the root and in its
 * direct subfolders, with a known type and a plain name, up to a total size. A request for anything else
 * is a map miss: it never touches the disk and never grows a cache (a cache of misses keyed by the
 * client's path grew by 80 MB for 20 000 random paths).
 * @module
 */
import { type Dirent, readdirSync, readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { optionsError } from "../errors.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
};

/** Names served: no dotfiles, nothing that needs percent-encoding in a URL. */
const PLAIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** Bounds of what is loaded into memory. */
export const STATIC_LIMITS = Object.freeze({ maxFiles: 256, maxTotalBytes: 16 * 1024 * 1024 });

/** The package's `web/` folder (from both `src/http` and `dist/http`). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

export class StaticFiles {
  /** URL path relative to the root (`index.html`, `assets/app.js`) → file. */
  readonly #files = new Map<string, StaticFile>();

  /**
   * Reads the web root; throws SSEB_ERR_OPTIONS_INVALID when it cannot be read or is over the bounds.
   * `skip` names subfolders served by someone else (the console's, which has its own access rule).
   */
  constructor(root: string, skip: readonly string[] = []) {
    let total = 0;
    const add = (path: string, file: string): void => {
      const type = TYPES[extname(file)];
      if (type === undefined) return;
      const body = readFileSync(file);
      total += body.length;
      if (this.#files.size >= STATIC_LIMITS.maxFiles || total > STATIC_LIMITS.maxTotalBytes) {
        throw optionsError(
          `webRoot holds more than ${STATIC_LIMITS.maxFiles} files or ${STATIC_LIMITS.maxTotalBytes} bytes to serve`,
        );
      }
      this.#files.set(path, { body, type });
    };
    for (const entry of list(root)) {
      if (!PLAIN_NAME.test(entry.name)) continue;
      const full = join(root, entry.name);
      // Symbolic links are skipped (isFile/isDirectory are false for them): nothing outside the root.
      if (entry.isFile()) add(entry.name, full);
      else if (entry.isDirectory() && !skip.includes(entry.name)) {
        for (const sub of list(full)) {
          if (sub.isFile() && PLAIN_NAME.test(sub.name))
            add(`${entry.name}/${sub.name}`, join(full, sub.name));
        }
      }
    }
  }

  /** Files loaded. */
  get size(): number {
    return this.#files.size;
  }

  /**
   * Sends `path` (relative to the root) and returns true, or returns false when there is no such file.
   * `headers` are added (and may replace `Cache-Control`).
   */
  serve(res: ServerResponse, path: string, head = false, headers: Record<string, string> = {}): boolean {
    const file = this.#files.get(path);
    if (file === undefined) return false;
    res.writeHead(200, {
      "Cache-Control": "no-cache",
      ...headers,
      "Content-Type": file.type,
      "Content-Length": file.body.length,
    });
    res.end(head ? undefined : file.body);
    return true;
  }
}

function list(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (cause) {
    throw optionsError(`webRoot ${dir} cannot be read (${(cause as Error).message})`);
  }
}
