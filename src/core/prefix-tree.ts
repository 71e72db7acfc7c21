/**
 * A radix tree from string keys to sets of values, answering "which keys is this string a prefix of" in
 * time linear in the string's length, whatever the number of keys. Indexes template selectors by their
 * literal prefix. Hand-written: it is small, on the hot path, and needs removal with node merging, which
 * the maintained trie packages we looked at either lack or bury in a larger API.
 * @module
 */

class Node<V> {
  edge: string;
  children: Map<number, Node<V>> | null = null;
  values: Set<V> | null = null;

  constructor(edge: string) {
    this.edge = edge;
  }
}

export class PrefixTree<V> {
  readonly #root = new Node<V>("");
  #size = 0;

  /** Number of (key, value) pairs. */
  get size(): number {
    return this.#size;
  }

  add(key: string, value: V): void {
    let node = this.#root;
    let pos = 0;
    while (pos < key.length) {
      const c = key.charCodeAt(pos);
      const child = node.children?.get(c);
      if (child === undefined) {
        const leaf = new Node<V>(key.slice(pos));
        node.children ??= new Map();
        node.children.set(c, leaf);
        node = leaf;
        pos = key.length;
        break;
      }
      const common = commonPrefix(child.edge, key, pos);
      if (common < child.edge.length) {
        // Split: node → mid (the shared part) → child (the rest of its edge).
        const mid = new Node<V>(child.edge.slice(0, common));
        child.edge = child.edge.slice(common);
        mid.children = new Map([[child.edge.charCodeAt(0), child]]);
        node.children?.set(c, mid);
        node = mid;
      } else {
        node = child;
      }
      pos += common;
    }
    node.values ??= new Set();
    if (!node.values.has(value)) {
      node.values.add(value);
      this.#size++;
    }
  }

  delete(key: string, value: V): boolean {
    const path: Node<V>[] = [this.#root];
    let node = this.#root;
    let pos = 0;
    while (pos < key.length) {
      const child = node.children?.get(key.charCodeAt(pos));
      if (child === undefined || !key.startsWith(child.edge, pos)) return false;
      pos += child.edge.length;
      node = child;
      path.push(node);
    }
    if (node.values?.delete(value) !== true) return false;
    this.#size--;
    if (node.values.size === 0) node.values = null;
    // Prune empty leaves, then merge a value-less node with its only child.
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i] as Node<V>;
      const parent = path[i - 1] as Node<V>;
      if (n.values !== null) break;
      const kids = n.children?.size ?? 0;
      if (kids === 0) {
        parent.children?.delete(n.edge.charCodeAt(0));
        if (parent.children?.size === 0) parent.children = null;
        continue;
      }
      if (kids === 1) {
        const only = (n.children as Map<number, Node<V>>).values().next().value as Node<V>;
        only.edge = n.edge + only.edge;
        parent.children?.set(only.edge.charCodeAt(0), only);
      }
      break;
    }
    return true;
  }

  /** Calls `fn` with the values of every key that `s` starts with (the empty key included). */
  forEachPrefixOf(s: string, fn: (values: ReadonlySet<V>) => void): void {
    let node = this.#root;
    let pos = 0;
    for (;;) {
      if (node.values !== null) fn(node.values);
      if (pos >= s.length) return;
      const child = node.children?.get(s.charCodeAt(pos));
      if (child === undefined || !s.startsWith(child.edge, pos)) return;
      pos += child.edge.length;
      node = child;
    }
  }
}

function commonPrefix(edge: string, key: string, pos: number): number {
  const max = Math.min(edge.length, key.length - pos);
  let i = 0;
  while (i < max && edge.charCodeAt(i) === key.charCodeAt(pos + i)) i++;
  return i;
}
