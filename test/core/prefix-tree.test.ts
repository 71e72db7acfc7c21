import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PrefixTree } from "../../src/core/prefix-tree.js";

describe("PrefixTree", () => {
  it("finds exactly the keys a string starts with, through any sequence of adds and deletes", () => {
    const key = fc.array(fc.constantFrom("a", "b", "/", "ab"), { maxLength: 5 }).map((p) => p.join(""));
    const op = fc.tuple(fc.boolean(), key, fc.integer({ min: 0, max: 3 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.array(key, { maxLength: 10 }), (ops, probes) => {
        const tree = new PrefixTree<number>();
        const model = new Map<string, Set<number>>();
        for (const [add, k, v] of ops) {
          if (add) {
            tree.add(k, v);
            if (!model.has(k)) model.set(k, new Set());
            model.get(k)?.add(v);
          } else {
            const had = model.get(k)?.delete(v) === true;
            assert.equal(tree.delete(k, v), had);
            if (model.get(k)?.size === 0) model.delete(k);
          }
        }
        let size = 0;
        for (const s of model.values()) size += s.size;
        assert.equal(tree.size, size);
        for (const p of probes) {
          const got: string[] = [];
          tree.forEachPrefixOf(p, (values) => {
            for (const v of values) got.push(String(v));
          });
          const want: string[] = [];
          for (const [k, values] of model) if (p.startsWith(k)) for (const v of values) want.push(String(v));
          assert.deepEqual(got.sort(), want.sort(), `probe ${JSON.stringify(p)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
