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

const ENTITY = /&(#x[0-9a-f]+|#\d+|[a-z][a-z0-9]*);/gi;

export function decodeEntities(s: string): string {
  // Most descriptions have no entity at all: then there is nothing to scan for.
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    // Own keys only: `&constructor;` must stay text, not become Object.prototype.constructor.
    return Object.hasOwn(NAMED, name) ? (NAMED[name] as string) : whole;
  });
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
