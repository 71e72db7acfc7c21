/**
 * RFC 6570 URI templates used as topic selectors: parsed and compiled once, matched in time linear in the
 * topic's length.
 *
 * What matches: exactly what the Mercure reference hub accepts, which matches a topic against
 * `Template.Regexp()` of github.com/yosida95/uritemplate: a literal matches itself; an expression matches
 * `(first X (sep X){0,n-1})?` where `first`/`sep` come from its operator, `n` is its variable count (no
 * bound with an exploded variable) and `X` is `([class] | %HH)*` with the operator's character class
 * (unreserved, plus reserved for `+` and `#`, plus `,` and, for named operators or explode, `=`).
 * Prefix lengths (`{var:3}`) do not limit the match, as there.
 *
 * Why hand-written: uri-template-router compiles in time exponential in the number of `{#…}` or `{?…*}`
 * expressions (seconds for seven), and the same language as a JavaScript RegExp backtracks in polynomial or
 * exponential time. Here the template becomes a Glushkov automaton (one position per character it can
 * consume, no ε-moves) simulated with bit sets: per topic character, a shift and a few masks per 32
 * positions plus one test per non-adjacent transition, whatever the template.
 * @module
 */

/** Why a template was refused; the caller turns it into a 400. */
export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

export interface TemplateLimits {
  /** Expressions (`{…}`) allowed in one template. */
  readonly maxExpressions: number;
  /** Variables allowed in one expression (`{a,b,c}` has three). */
  readonly maxVariablesPerExpression: number;
}

// ---- character classes (ASCII bit sets, 4 × 32 bits) --------------------------------------------------

type CharSet = Uint32Array;

function charSet(chars: string): CharSet {
  const s = new Uint32Array(4);
  for (let i = 0; i < chars.length; i++) {
    const c = chars.charCodeAt(i);
    s[c >>> 5] = (s[c >>> 5] as number) | (1 << (c & 31));
  }
  return s;
}

function union(a: CharSet, b: CharSet): CharSet {
  const s = new Uint32Array(4);
  for (let i = 0; i < 4; i++) s[i] = (a[i] as number) | (b[i] as number);
  return s;
}

const range = (from: string, to: string): string => {
  let out = "";
  for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c++) out += String.fromCharCode(c);
  return out;
};

const ALPHA = range("A", "Z") + range("a", "z");
const DIGIT = range("0", "9");
const UNRESERVED = charSet(`${ALPHA}${DIGIT}-._~`);
const RESERVED = charSet(":/?#[]@!$&'()*+,;=");
const HEX = charSet(`${DIGIT}ABCDEFabcdef`);
const COMMA = charSet(",");
const COMMA_EQUALS = charSet(",=");
const VARCHAR = charSet(`${ALPHA}${DIGIT}_`);
/** RFC 6570 `literals`, ASCII part (non-ASCII ucschar/iprivate are allowed separately). */
const LITERAL = charSet(`!#$&()*+,-./0123456789:;=?@${range("A", "[")}]_${range("a", "z")}~`);

function has(set: CharSet, c: number): boolean {
  return c < 128 && ((set[c >>> 5] as number) & (1 << (c & 31))) !== 0;
}

// ---- parsing --------------------------------------------------------------------------------------------

interface Operator {
  readonly first: string;
  readonly sep: string;
  readonly named: boolean;
  readonly reserved: boolean;
}

const OPERATORS: Readonly<Record<string, Operator>> = {
  "": { first: "", sep: ",", named: false, reserved: false },
  "+": { first: "", sep: ",", named: false, reserved: true },
  "#": { first: "#", sep: ",", named: false, reserved: true },
  ".": { first: ".", sep: ".", named: false, reserved: false },
  "/": { first: "/", sep: "/", named: false, reserved: false },
  ";": { first: ";", sep: ";", named: true, reserved: false },
  "?": { first: "?", sep: "&", named: true, reserved: false },
  "&": { first: "&", sep: "&", named: true, reserved: false },
};

interface Expression {
  readonly op: Operator;
  readonly variables: number;
  readonly explode: boolean;
  readonly firstExplode: boolean;
}

type Part = string | Expression;

function isNonAsciiLiteral(c: number): boolean {
  // ucschar and iprivate of RFC 6570 §2.1, as UTF-16 code units (surrogates pair up to astral ranges).
  return (
    (c >= 0xa0 && c <= 0xd7ff) ||
    (c >= 0xd800 && c <= 0xdfff) ||
    (c >= 0xe000 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xffef)
  );
}

function parse(template: string, limits: TemplateLimits): Part[] {
  const parts: Part[] = [];
  let expressions = 0;
  let i = 0;
  while (i < template.length) {
    if (template[i] === "{") {
      if (++expressions > limits.maxExpressions) {
        throw new TemplateError(`more than ${limits.maxExpressions} expressions`);
      }
      const end = template.indexOf("}", i);
      if (end === -1) throw new TemplateError("unclosed expression");
      parts.push(parseExpression(template.slice(i + 1, end), limits));
      i = end + 1;
      continue;
    }
    let literal = "";
    while (i < template.length && template[i] !== "{") {
      const c = template.charCodeAt(i);
      if (c === 0x25) {
        // pct-encoded: kept as is, matched as the same three characters
        if (!has(HEX, template.charCodeAt(i + 1)) || !has(HEX, template.charCodeAt(i + 2))) {
          throw new TemplateError("invalid percent-encoding in a literal");
        }
        literal += template.slice(i, i + 3);
        i += 3;
        continue;
      }
      if (!has(LITERAL, c) && !isNonAsciiLiteral(c)) {
        throw new TemplateError(c === 0x7d ? "unmatched }" : "invalid character in a literal");
      }
      literal += template[i];
      i++;
    }
    parts.push(literal);
  }
  return parts;
}

function parseExpression(body: string, limits: TemplateLimits): Expression {
  if (body === "") throw new TemplateError("empty expression");
  const opChar = "+#./;?&".includes(body[0] as string) ? (body[0] as string) : "";
  if ("=,!@|".includes(body[0] as string)) throw new TemplateError("reserved operator");
  const op = OPERATORS[opChar] as Operator;
  const specs = body.slice(opChar.length).split(",");
  if (specs.length > limits.maxVariablesPerExpression) {
    throw new TemplateError(`more than ${limits.maxVariablesPerExpression} variables in an expression`);
  }
  let explode = false;
  let firstExplode = false;
  specs.forEach((spec, n) => {
    let name = spec;
    if (spec.endsWith("*")) {
      name = spec.slice(0, -1);
      explode = true;
      if (n === 0) firstExplode = true;
    } else {
      const colon = spec.indexOf(":");
      if (colon !== -1) {
        name = spec.slice(0, colon);
        if (!/^[1-9][0-9]{0,3}$/.test(spec.slice(colon + 1)))
          throw new TemplateError("invalid prefix length");
      }
    }
    if (!isVarname(name)) throw new TemplateError("invalid variable name");
  });
  return { op, variables: specs.length, explode, firstExplode };
}

/** varname = varchar *( ["."] varchar ), varchar = ALPHA / DIGIT / "_" / pct-encoded */
function isVarname(name: string): boolean {
  if (name === "" || name.startsWith(".") || name.endsWith(".") || name.includes("..")) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) continue;
    if (c === 0x25) {
      if (!has(HEX, name.charCodeAt(i + 1)) || !has(HEX, name.charCodeAt(i + 2))) return false;
      i += 2;
      continue;
    }
    if (!has(VARCHAR, c)) return false;
  }
  return true;
}

// ---- Glushkov construction ------------------------------------------------------------------------------

interface Fragment {
  readonly nullable: boolean;
  readonly first: readonly number[];
  readonly last: readonly number[];
}

const EMPTY: Fragment = { nullable: true, first: [], last: [] };

/** Positions (each consumes one character: a class, or one exact code unit) and the transitions between them. */
class Builder {
  /** Per position: its class, or `null` for an exact code unit (`units`). */
  readonly classes: (CharSet | null)[] = [];
  readonly units: number[] = [];
  readonly from: number[] = [];
  readonly to: number[] = [];

  #position(cls: CharSet | null, unit: number): Fragment {
    const i = this.classes.length;
    this.classes.push(cls);
    this.units.push(unit);
    return { nullable: false, first: [i], last: [i] };
  }

  #link(last: readonly number[], first: readonly number[]): void {
    for (const p of last) {
      for (const q of first) {
        this.from.push(p);
        this.to.push(q);
      }
    }
  }

  text(s: string): Fragment {
    if (s === "") return EMPTY;
    const start = this.classes.length;
    for (let i = 0; i < s.length; i++) {
      this.#position(null, s.charCodeAt(i));
      if (i > 0) this.#link([start + i - 1], [start + i]);
    }
    return { nullable: false, first: [start], last: [start + s.length - 1] };
  }

  /** Fragments are built lazily, in order, so positions are numbered left to right. */
  seq(items: readonly (() => Fragment)[]): Fragment {
    let acc = EMPTY;
    for (const make of items) {
      const f = make();
      this.#link(acc.last, f.first);
      acc = {
        nullable: acc.nullable && f.nullable,
        first: acc.nullable ? [...acc.first, ...f.first] : acc.first,
        last: f.nullable ? [...acc.last, ...f.last] : f.last,
      };
    }
    return acc;
  }

  opt(f: Fragment): Fragment {
    return { ...f, nullable: true };
  }

  star(f: Fragment): Fragment {
    this.#link(f.last, f.first);
    return { ...f, nullable: true };
  }

  /** `([class] | %HH)*` */
  value(cls: CharSet): Fragment {
    const plain = this.#position(cls, -1);
    const pct = this.text("%");
    const h1 = this.#position(HEX, -1);
    const h2 = this.#position(HEX, -1);
    this.#link(pct.last, h1.first);
    this.#link(h1.last, h2.first);
    return this.star({
      nullable: false,
      first: [...plain.first, ...pct.first],
      last: [...plain.last, ...h2.last],
    });
  }

  expression(e: Expression): Fragment {
    const cls = (named: boolean): CharSet =>
      e.op.reserved ? UNRESERVED_RESERVED : named ? UNRESERVED_COMMA_EQUALS : UNRESERVED_COMMA;
    const again = (): Fragment =>
      this.seq([() => this.text(e.op.sep), () => this.value(cls(e.op.named || e.explode))]);
    // (sep X){0,n-1} as nested options (sep X (sep X (…)?)?)?, or (sep X)* with an exploded variable.
    const upTo = (n: number): Fragment => (n === 0 ? EMPTY : this.opt(this.seq([again, () => upTo(n - 1)])));
    const rest = (): Fragment => (e.explode ? this.star(again()) : upTo(e.variables - 1));
    return this.opt(
      this.seq([() => this.text(e.op.first), () => this.value(cls(e.op.named || e.firstExplode)), rest]),
    );
  }
}

const UNRESERVED_RESERVED = union(UNRESERVED, RESERVED);
const UNRESERVED_COMMA = union(UNRESERVED, COMMA);
const UNRESERVED_COMMA_EQUALS = union(UNRESERVED, COMMA_EQUALS);

// ---- the compiled matcher ------------------------------------------------------------------------------

/**
 * A compiled template. The literal text before the first and after the last expression is compared as a
 * string; the automaton covers what lies between, so the usual `https://host/path/{id}` has a handful of
 * positions and matches in one 32-bit word.
 *
 * Transitions p → q are grouped by their distance q − p: a step is, per distance, one masked shift of the
 * whole state (the Shift-And idea: p → p+1 for literal runs, p → p for `*`, short backward moves for
 * loops, forward ones for skipped optional parts), so its cost is words × distances, never one test per
 * transition.
 */
export class UriTemplate {
  readonly source: string;
  /** The literal text before the first expression: topics not starting with it never match. */
  readonly prefix: string;
  /** The literal text after the last expression. */
  readonly suffix: string;
  /** Words (32 positions each) × distance groups: the work per topic character, bounded by the caller. */
  readonly cost: number;
  readonly #words: number;
  readonly #nullable: boolean;
  /** Positions accepting each ASCII character (128 × words). */
  readonly #accept: Int32Array;
  /** Positions accepting a non-ASCII code unit (literals only). */
  readonly #other: Map<number, Int32Array>;
  readonly #first: Int32Array;
  readonly #last: Int32Array;
  /** Distances, and per distance the mask of source positions (groups × words). */
  readonly #distances: Int32Array;
  readonly #sources: Int32Array;
  /** Scratch state bit sets, reused by every match (matching is synchronous). */
  readonly #a: Int32Array;
  readonly #b: Int32Array;

  constructor(source: string, limits: TemplateLimits) {
    this.source = source;
    const parts = parse(source, limits);
    this.prefix = typeof parts[0] === "string" ? (parts.shift() as string) : "";
    this.suffix = typeof parts[parts.length - 1] === "string" ? (parts.pop() as string) : "";
    const b = new Builder();
    const root = b.seq(parts.map((p) => () => (typeof p === "string" ? b.text(p) : b.expression(p))));
    const m = b.classes.length;
    const W = Math.max(1, Math.ceil(m / 32));
    this.#words = W;
    this.#nullable = root.nullable;
    this.#accept = new Int32Array(128 * W);
    this.#other = new Map();
    const classChars = new Map<CharSet, number[]>();
    for (let i = 0; i < m; i++) {
      const cls = b.classes[i] ?? null;
      const unit = b.units[i] as number;
      if (cls === null && unit >= 128) {
        let mask = this.#other.get(unit);
        if (mask === undefined) {
          mask = new Int32Array(W);
          this.#other.set(unit, mask);
        }
        setBit(mask, 0, i);
        continue;
      }
      let chars = cls === null ? [unit] : classChars.get(cls);
      if (chars === undefined) {
        chars = [];
        for (let c = 0; c < 128; c++) if (has(cls as CharSet, c)) chars.push(c);
        classChars.set(cls as CharSet, chars);
      }
      for (const c of chars) setBit(this.#accept, c * W, i);
    }
    this.#first = new Int32Array(W);
    this.#last = new Int32Array(W);
    for (const p of root.first) setBit(this.#first, 0, p);
    for (const p of root.last) setBit(this.#last, 0, p);
    const groups = new Map<number, Int32Array>();
    for (let k = 0; k < b.from.length; k++) {
      const p = b.from[k] as number;
      const d = (b.to[k] as number) - p;
      let mask = groups.get(d);
      if (mask === undefined) {
        mask = new Int32Array(W);
        groups.set(d, mask);
      }
      setBit(mask, 0, p);
    }
    this.#distances = Int32Array.from(groups.keys());
    this.#sources = new Int32Array(groups.size * W);
    let g = 0;
    for (const mask of groups.values()) this.#sources.set(mask, W * g++);
    this.cost = W * Math.max(1, groups.size);
    this.#a = new Int32Array(W);
    this.#b = new Int32Array(W);
  }

  matches(topic: string): boolean {
    const start = this.prefix.length;
    const end = topic.length - this.suffix.length;
    if (end < start || !topic.startsWith(this.prefix) || !topic.endsWith(this.suffix)) return false;
    if (start === end) return this.#nullable;
    return this.#words === 1 ? this.#match32(topic, start, end) : this.#matchWide(topic, start, end);
  }

  /** The common case: at most 32 positions, the state in one integer. */
  #match32(topic: string, start: number, end: number): boolean {
    const accept = this.#accept;
    const distances = this.#distances;
    const sources = this.#sources;
    const groups = distances.length;
    let c = topic.charCodeAt(start);
    let d = (this.#first[0] as number) & (c < 128 ? (accept[c] as number) : (this.#other.get(c)?.[0] ?? 0));
    for (let i = start + 1; i < end && d !== 0; i++) {
      let n = 0;
      for (let g = 0; g < groups; g++) {
        const s = d & (sources[g] as number);
        if (s === 0) continue;
        const k = distances[g] as number;
        n |= k >= 0 ? s << k : s >>> -k;
      }
      c = topic.charCodeAt(i);
      d = n & (c < 128 ? (accept[c] as number) : (this.#other.get(c)?.[0] ?? 0));
    }
    return (d & (this.#last[0] as number)) !== 0;
  }

  /**
   * Any number of positions. Only the words between the lowest and the highest active one are visited, so a
   * long template costs little while few of its positions are alive (the usual case).
   */
  #matchWide(topic: string, start: number, end: number): boolean {
    const W = this.#words;
    const accept = this.#accept;
    const distances = this.#distances;
    const sources = this.#sources;
    const groups = distances.length;
    let cur = this.#a;
    let nxt = this.#b;
    cur.set(this.#first);
    nxt.fill(0);
    // [lo, hi]: the words of `cur` that may be non-zero. `nxt` is all zero at the start of each step (an
    // early return leaves both dirty: hence the set/fill above).
    let lo = 0;
    let hi = W - 1;
    for (let i = start; i < end; i++) {
      const c = topic.charCodeAt(i);
      let nlo = lo;
      let nhi = hi;
      if (i === start) {
        nxt.set(cur);
      } else {
        nlo = W;
        nhi = -1;
        for (let g = 0; g < groups; g++) {
          const k = distances[g] as number;
          const base = g * W;
          // Word w of the source lands in words w+q and w+q+1 (k ≥ 0), or w−q and w−q−1 (k < 0).
          const q = k >= 0 ? k >> 5 : -k >> 5;
          const r = k >= 0 ? k & 31 : -k & 31;
          for (let w = lo; w <= hi; w++) {
            const s = (cur[w] as number) & (sources[base + w] as number);
            if (s === 0) continue;
            if (k >= 0) {
              const t = w + q;
              if (t < W) {
                nxt[t] = (nxt[t] as number) | (s << r);
                if (t < nlo) nlo = t;
                if (t > nhi) nhi = t;
              }
              if (r !== 0 && t + 1 < W) {
                nxt[t + 1] = (nxt[t + 1] as number) | (s >>> (32 - r));
                if (t + 1 > nhi) nhi = t + 1;
              }
            } else {
              const t = w - q;
              if (t >= 0) {
                nxt[t] = (nxt[t] as number) | (s >>> r);
                if (t < nlo) nlo = t;
                if (t > nhi) nhi = t;
              }
              if (r !== 0 && t - 1 >= 0) {
                nxt[t - 1] = (nxt[t - 1] as number) | (s << (32 - r));
                if (t - 1 < nlo) nlo = t - 1;
              }
            }
          }
        }
      }
      // Keep what accepts c; find the new active range; clear `cur` for its reuse as the next `nxt`.
      const other = c < 128 ? null : (this.#other.get(c) ?? null);
      if (c >= 128 && other === null) return false;
      const base = c * W;
      let alo = W;
      let ahi = -1;
      for (let w = nlo; w <= nhi; w++) {
        const v = (nxt[w] as number) & (other === null ? (accept[base + w] as number) : (other[w] as number));
        nxt[w] = v;
        if (v !== 0) {
          if (alo === W) alo = w;
          ahi = w;
        }
      }
      for (let w = lo; w <= hi; w++) cur[w] = 0;
      if (ahi < 0) return false;
      lo = alo;
      hi = ahi;
      const t = cur;
      cur = nxt;
      nxt = t;
    }
    for (let w = lo; w <= hi; w++) if (((cur[w] as number) & (this.#last[w] as number)) !== 0) return true;
    return false;
  }
}

function setBit(bits: Int32Array, base: number, i: number): void {
  const w = base + (i >>> 5);
  bits[w] = (bits[w] as number) | (1 << (i & 31));
}
