/**
 * A small, strict parser for the `$filter` subset replication clients send, and its evaluator:
 *
 *   expr   := or
 *   or     := and ('or' and)*
 *   and    := unary ('and' unary)*
 *   unary  := 'not' unary | '(' expr ')' | compare
 *   compare:= Field op literal | Field 'in' '(' literal (',' literal)* ')'
 *   op     := eq | ne | gt | ge | lt | le
 *   literal:= 'string' ('' escapes a quote) | number | true | false | null | DateTimeOffset (unquoted)
 *
 * Used by the sources file (an extra filter must be in this subset) and by the project's RESO test server,
 * which answers 400 with an OData error for anything else, as real servers do. Anything outside the
 * grammar is an error naming the position, never a guess.
 */
import { compareInstants, parseInstant } from './cursor';

export type Literal =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'null' }
  | { readonly type: 'instant'; readonly value: string };

export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: 'not'; readonly operand: FilterNode }
  | { readonly kind: 'compare'; readonly field: string; readonly op: CompareOp; readonly value: Literal }
  | { readonly kind: 'in'; readonly field: string; readonly values: readonly Literal[] };

export class FilterSyntaxError extends Error {
  constructor(
    readonly position: number,
    message: string,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'FilterSyntaxError';
  }
}

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'number'; v: number; at: number }
  | { t: 'instant'; v: string; at: number }
  | { t: '(' | ')' | ','; at: number };

const INSTANT_TOKEN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})/;
const NUMBER_TOKEN = /^-?\d+(?:\.\d+)?(?![\w:-])/;
const WORD_TOKEN = /^[A-Za-z_][A-Za-z0-9_]*/;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c, at: i });
      i++;
      continue;
    }
    if (c === "'") {
      let v = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new FilterSyntaxError(i, 'unterminated string literal');
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            v += "'";
            j += 2;
            continue;
          }
          break;
        }
        v += src[j];
        j++;
      }
      out.push({ t: 'string', v, at: i });
      i = j + 1;
      continue;
    }
    const rest = src.slice(i);
    const instant = INSTANT_TOKEN.exec(rest);
    if (instant) {
      if (!parseInstant(instant[0])) throw new FilterSyntaxError(i, `invalid DateTimeOffset ${instant[0]}`);
      out.push({ t: 'instant', v: instant[0], at: i });
      i += instant[0].length;
      continue;
    }
    const num = NUMBER_TOKEN.exec(rest);
    if (num) {
      out.push({ t: 'number', v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    const word = WORD_TOKEN.exec(rest);
    if (word) {
      out.push({ t: 'word', v: word[0], at: i });
      i += word[0].length;
      continue;
    }
    throw new FilterSyntaxError(i, `unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}

const OPS = new Set<string>(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const KEYWORDS = new Set<string>([...OPS, 'and', 'or', 'not', 'in', 'true', 'false', 'null']);

/** Parses `src`; throws FilterSyntaxError for anything outside the subset. */
export function parseFilter(src: string): FilterNode {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const at = (): number => peek()?.at ?? src.length;
  const isWord = (tok: Token | undefined, v: string): boolean => tok?.t === 'word' && tok.v === v;

  const literal = (): Literal => {
    const tok = tokens[pos++];
    if (!tok) throw new FilterSyntaxError(src.length, 'expected a literal');
    if (tok.t === 'string') return { type: 'string', value: tok.v };
    if (tok.t === 'number') return { type: 'number', value: tok.v };
    if (tok.t === 'instant') return { type: 'instant', value: tok.v };
    if (tok.t === 'word' && (tok.v === 'true' || tok.v === 'false'))
      return { type: 'boolean', value: tok.v === 'true' };
    if (tok.t === 'word' && tok.v === 'null') return { type: 'null' };
    throw new FilterSyntaxError(tok.at, 'expected a literal');
  };
  const compare = (): FilterNode => {
    const field = tokens[pos];
    if (field?.t !== 'word' || KEYWORDS.has(field.v)) throw new FilterSyntaxError(at(), 'expected a property name');
    pos++;
    const op = tokens[pos++];
    if (op?.t === 'word' && op.v === 'in') {
      if (peek()?.t !== '(') throw new FilterSyntaxError(at(), "expected '(' after in");
      pos++;
      const values = [literal()];
      while (peek()?.t === ',') {
        pos++;
        values.push(literal());
      }
      if (peek()?.t !== ')') throw new FilterSyntaxError(at(), "expected ')' closing in");
      pos++;
      return { kind: 'in', field: field.v, values };
    }
    if (op?.t !== 'word' || !OPS.has(op.v)) {
      throw new FilterSyntaxError(op?.at ?? src.length, 'expected eq, ne, gt, ge, lt, le or in');
    }
    return { kind: 'compare', field: field.v, op: op.v as CompareOp, value: literal() };
  };
  const unary = (): FilterNode => {
    if (isWord(peek(), 'not')) {
      pos++;
      return { kind: 'not', operand: unary() };
    }
    if (peek()?.t === '(') {
      pos++;
      const inner = or();
      if (peek()?.t !== ')') throw new FilterSyntaxError(at(), "expected ')'");
      pos++;
      return inner;
    }
    return compare();
  };
  const and = (): FilterNode => {
    let left = unary();
    while (isWord(peek(), 'and')) {
      pos++;
      left = { kind: 'and', left, right: unary() };
    }
    return left;
  };
  const or = (): FilterNode => {
    let left = and();
    while (isWord(peek(), 'or')) {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  if (tokens.length === 0) throw new FilterSyntaxError(0, 'empty filter');
  const tree = or();
  if (pos < tokens.length) throw new FilterSyntaxError(at(), 'unexpected token');
  return tree;
}

/** The fields a filter names (a server checks them against its filterable ones). */
export function filterFields(node: FilterNode): string[] {
  switch (node.kind) {
    case 'and':
    case 'or':
      return [...new Set([...filterFields(node.left), ...filterFields(node.right)])];
    case 'not':
      return filterFields(node.operand);
    default:
      return [node.field];
  }
}

/** Counts `or` operators (MLS Grid allows at most 5). */
export function countOr(node: FilterNode): number {
  switch (node.kind) {
    case 'or':
      return 1 + countOr(node.left) + countOr(node.right);
    case 'and':
      return countOr(node.left) + countOr(node.right);
    case 'not':
      return countOr(node.operand);
    default:
      return 0;
  }
}

/** Evaluates `node` against a record; a comparison with a missing field or mismatched type is false. */
export function evaluateFilter(node: FilterNode, record: Readonly<Record<string, unknown>>): boolean {
  switch (node.kind) {
    case 'and':
      return evaluateFilter(node.left, record) && evaluateFilter(node.right, record);
    case 'or':
      return evaluateFilter(node.left, record) || evaluateFilter(node.right, record);
    case 'not':
      return !evaluateFilter(node.operand, record);
    case 'in':
      return node.values.some((v) => compareValue(record[node.field], v) === 0);
    case 'compare': {
      const c = compareValue(record[node.field], node.value);
      if (c === undefined) return node.op === 'ne';
      return { eq: c === 0, ne: c !== 0, gt: c > 0, ge: c >= 0, lt: c < 0, le: c <= 0 }[node.op];
    }
  }
}

function compareValue(actual: unknown, lit: Literal): number | undefined {
  switch (lit.type) {
    case 'null':
      return actual === null || actual === undefined ? 0 : undefined;
    case 'boolean':
      return typeof actual === 'boolean' ? Number(actual) - Number(lit.value) : undefined;
    case 'number':
      return typeof actual === 'number' ? actual - lit.value : undefined;
    case 'string':
      return typeof actual === 'string' ? (actual < lit.value ? -1 : actual > lit.value ? 1 : 0) : undefined;
    case 'instant':
      return typeof actual === 'string' && parseInstant(actual) ? compareInstants(actual, lit.value) : undefined;
  }
}

/** Keys per `in` list: a query stays inside the URL lengths servers accept (8 KB is common). */
export const KEYS_PER_IN_LIST = 100;

/** `<field> in ('a','b')`: the records of these keys (Media by ResourceRecordKey, a purge's confirmation). */
export function inList(field: string, keys: readonly string[]): string {
  return `${field} in (${keys.map(stringLiteral).join(',')})`;
}

/** An OData string literal: quoted, with quotes doubled. */
export function stringLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
