/** Description cleanup: HTML tags stripped, entities decoded, whitespace collapsed; empty becomes null. */

const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  rsquo: '’',
  lsquo: '‘',
  rdquo: '”',
  ldquo: '“',
  deg: '°',
  sup2: '²',
  frac12: '½',
  copy: '©',
  reg: '®',
  trade: '™',
  eacute: 'é',
  egrave: 'è',
  ecirc: 'ê',
  euml: 'ë',
  agrave: 'à',
  acirc: 'â',
  ccedil: 'ç',
  ocirc: 'ô',
  icirc: 'î',
  iuml: 'ï',
  ucirc: 'û',
  ugrave: 'ù',
  Eacute: 'É',
  Egrave: 'È',
  Agrave: 'À',
  Ccedil: 'Ç',
  laquo: '«',
  raquo: '»',
};

/**
 * `&(#x[0-9a-f]+|#\d+|[a-z][a-z0-9]*);` case-insensitively, read by hand: this regex with a replace callback
 * was the slowest step of a description. Decodes each match the way the replace did: numeric references
 * in range become their code point, known names their text, anything else stays as written. Matches do not
 * overlap, and scanning goes on after the `;` of each one ("&amp;lt;" -> "&lt;").
 */
export function decodeEntities(s: string): string {
  // Most descriptions have no entity at all: then there is nothing to scan for.
  let amp = s.indexOf('&');
  if (amp === -1) return s;
  let out = '';
  let copied = 0;
  while (amp !== -1) {
    const semi = entityEnd(s, amp);
    if (semi === -1) {
      amp = s.indexOf('&', amp + 1);
      continue;
    }
    const decoded = decodeEntity(s.slice(amp + 1, semi));
    if (decoded !== undefined) {
      out += s.slice(copied, amp) + decoded;
      copied = semi + 1;
    }
    amp = s.indexOf('&', semi + 1);
  }
  return copied === 0 ? s : out + s.slice(copied);
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** ASCII letter, either case: `| 32` folds upper case onto lower case. */
const isLetter = (c: number): boolean => (c | 32) >= 97 && (c | 32) <= 122;
const isHexDigit = (c: number): boolean => isDigit(c) || ((c | 32) >= 97 && (c | 32) <= 102);

/** The index of the `;` that ends an entity starting at `amp`, or -1 when none starts there. */
function entityEnd(s: string, amp: number): number {
  let i = amp + 1;
  const c = s.charCodeAt(i);
  if (c === 35 /* # */) {
    const x = s.charCodeAt(i + 1);
    const hex = x === 120 /* x */ || x === 88; /* X */
    i += hex ? 2 : 1;
    const first = i;
    while (i < s.length && (hex ? isHexDigit(s.charCodeAt(i)) : isDigit(s.charCodeAt(i)))) i++;
    if (i === first) return -1;
  } else if (isLetter(c)) {
    i++;
    while (i < s.length && (isLetter(s.charCodeAt(i)) || isDigit(s.charCodeAt(i)))) i++;
  } else {
    return -1;
  }
  return s.charCodeAt(i) === 59 /* ; */ ? i : -1;
}

/** The text of one entity (`name` is what lies between `&` and `;`), or undefined to keep it as written. */
function decodeEntity(name: string): string | undefined {
  if (name[0] === '#') {
    const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : undefined;
  }
  // Own keys only: `&constructor;` must stay text, not become Object.prototype.constructor.
  return Object.hasOwn(NAMED, name) ? NAMED[name] : undefined;
}

const SCRIPT_OR_STYLE = /<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const COMMENT = /<!--[\s\S]*?-->/g;
const TAG = /<[^>]*>/g;
const WHITESPACE_RUN = /\s+/g;
/** Whitespace that collapsing would change: a run of two or more, or one that is not a plain space. */
const UNTIDY_WHITESPACE = /\s\s|[^\S ]/;

export function cleanDescription(raw: string): string | null {
  // Each step is skipped when it cannot change the text (no `<`, no `&`, no untidy whitespace), which is the
  // common case for plain-text remarks; the steps that run are the same as always, in the same order.
  let text = raw;
  if (text.includes('<')) {
    // Both element names start with s, and a comment with <!--: cheap tests before the regexes scan.
    if (text.includes('<s') || text.includes('<S')) text = text.replace(SCRIPT_OR_STYLE, ' ');
    if (text.includes('<!--')) text = text.replace(COMMENT, ' ');
    text = text.replace(TAG, ' ');
  }
  text = decodeEntities(text);
  if (UNTIDY_WHITESPACE.test(text)) text = text.replace(WHITESPACE_RUN, ' ');
  text = text.trim();
  return text === '' ? null : text;
}
