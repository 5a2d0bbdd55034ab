/**
 * Address normalization for the US and Canada: line1 from RESO's street parts or parsed from
 * UnparsedAddress, USPS suffix and directional abbreviations, title case, unit extraction, postal codes,
 * and the fingerprint that matches the same home across MLSs.
 */
import { hash } from 'node:crypto';
import type { Address, Country } from '../../schemas/generated/types';
import { memoize } from './memo';

const SUFFIXES: Record<string, string> = {
  STREET: 'St',
  ST: 'St',
  STR: 'St',
  AVENUE: 'Ave',
  AVE: 'Ave',
  AV: 'Ave',
  AVN: 'Ave',
  BOULEVARD: 'Blvd',
  BLVD: 'Blvd',
  BOUL: 'Blvd',
  ROAD: 'Rd',
  RD: 'Rd',
  DRIVE: 'Dr',
  DR: 'Dr',
  DRV: 'Dr',
  LANE: 'Ln',
  LN: 'Ln',
  COURT: 'Ct',
  CT: 'Ct',
  CRT: 'Ct',
  PLACE: 'Pl',
  PL: 'Pl',
  TERRACE: 'Ter',
  TER: 'Ter',
  TERR: 'Ter',
  CIRCLE: 'Cir',
  CIR: 'Cir',
  CRCL: 'Cir',
  HIGHWAY: 'Hwy',
  HWY: 'Hwy',
  PARKWAY: 'Pkwy',
  PKWY: 'Pkwy',
  PKY: 'Pkwy',
  WAY: 'Way',
  CRESCENT: 'Cres',
  CRES: 'Cres',
  TRAIL: 'Trl',
  TRL: 'Trl',
  SQUARE: 'Sq',
  SQ: 'Sq',
};

const DIRECTIONS: Record<string, string> = {
  NORTH: 'N',
  N: 'N',
  SOUTH: 'S',
  S: 'S',
  EAST: 'E',
  E: 'E',
  WEST: 'W',
  W: 'W',
  NORTHEAST: 'NE',
  NE: 'NE',
  NORTHWEST: 'NW',
  NW: 'NW',
  SOUTHEAST: 'SE',
  SE: 'SE',
  SOUTHWEST: 'SW',
  SW: 'SW',
};

const key = (w: string) => {
  const upper = w.toUpperCase();
  return upper.includes('.') ? upper.replace(/\./g, '') : upper;
};
const suffix = (w: string): string | undefined => SUFFIXES[key(w)];
const direction = (w: string): string | undefined => {
  const k = key(w);
  return DIRECTIONS[/[\s-]/.test(k) ? k.replace(/[\s-]/g, '') : k];
};

/** Words of a text, as `split(/\s+/).filter(Boolean)` gives them; one word needs no split. */
const wordsOf = (s: string): string[] => (/\s/.test(s) ? s.split(/\s+/).filter(Boolean) : s === '' ? [] : [s]);

const ORDINAL = /^\d+(st|nd|rd|th)$/i;
/** Printable ASCII words (no space) separated by single spaces: the shape titleCaseAscii handles. */
const ASCII_WORDS = /^[!-~]+(?: [!-~]+)*$/;
const ASCII_PART = /[^ -]+/g;
/** An ASCII part already in title case: an upper-case letter, then no upper-case letter. */
const TITLED_PART = /^[A-Z][^A-Z]*$/;

/** Title case by word and hyphen part; "1ST" -> "1st", "12B" stays upper case. */
export function titleCase(s: string): string {
  if (ASCII_WORDS.test(s)) return titleCaseAscii(s);
  const tidy = s.trim().replace(/\s+/g, ' ');
  return ASCII_WORDS.test(tidy) ? titleCaseAscii(tidy) : titleCaseAny(tidy);
}

/** titleCase for the City field, memoized: a feed names the same few hundred cities again and again. */
export const cityName: (raw: string) => string = memoize(titleCase);

/**
 * titleCase for plain ASCII: toLocaleLowerCase('en-US') goes through ICU and was the slowest step of the
 * address rules, while for ASCII it is exactly toLowerCase (en-US has no special casing). Same parts,
 * same rule per part as titleCaseAny.
 */
function titleCaseAscii(s: string): string {
  // Most calls get one word ("Main", "Street"): no need to scan for parts.
  return s.includes(' ') || s.includes('-') ? s.replace(ASCII_PART, titleCasePart) : titleCasePart(s);
}

function titleCasePart(part: string): string {
  const c = part.charCodeAt(0);
  if (c >= 48 && c <= 57) return ORDINAL.test(part) ? part.toLowerCase() : part.toUpperCase();
  if (TITLED_PART.test(part)) return part; // what feeds mostly send; saves two new strings
  return part.charAt(0).toUpperCase() + part.slice(1).toLowerCase();
}

/** titleCase for any text (accents, other scripts): locale-aware case mapping per word and hyphen part. */
function titleCaseAny(s: string): string {
  return s
    .trim()
    .replace(/\s+/g, ' ')
    .split(' ')
    .map((word) =>
      word
        .split('-')
        .map((part) => {
          if (/^\d/.test(part)) return ORDINAL.test(part) ? part.toLowerCase() : part.toUpperCase();
          const lower = part.toLocaleLowerCase('en-US');
          return lower.charAt(0).toLocaleUpperCase('en-US') + lower.slice(1);
        })
        .join('-'),
    )
    .join(' ');
}

const UNIT_RE = /(?:^|[\s,])(?:#\s*|(?:apt|apartment|unit|suite|ste)\.?\s*#?\s*)([A-Za-z0-9][A-Za-z0-9-]*)\s*$/i;

/** "#4", "Apt 4", "Unit 4B", "Suite 200", "4" -> "4", "4B", "200". */
export function cleanUnit(raw: string): string | undefined {
  const t = raw.trim();
  const m = UNIT_RE.exec(` ${t}`);
  const unit = (m ? m[1]! : t.replace(/^#\s*/, '')).toUpperCase();
  return /^[A-Z0-9][A-Z0-9-]*$/.test(unit) ? unit : undefined;
}

/** Splits a trailing unit off a street line: "12 Main St Apt 4" -> ["12 Main St", "4"]. */
export function splitUnit(street: string): { street: string; unit: string | undefined } {
  const m = UNIT_RE.exec(street);
  if (!m) return { street: street.trim(), unit: undefined };
  return { street: street.slice(0, m.index).replace(/[\s,]+$/, ''), unit: m[1]!.toUpperCase() };
}

/** Formats words of a street line: directionals and suffixes abbreviated, the rest title case. */
function formatStreetWords(words: string[]): string {
  const out = words.map((w) => titleCase(w));
  const n = words.length;
  // The first word after the number, and the last word, may be directionals: "N Main St", "Main St NW".
  const numbered = n > 0 && /^\d/.test(words[0]!);
  const first = numbered ? 1 : 0;
  let lastName = n - 1;
  if (n - first >= 3 && direction(words[n - 1]!)) {
    out[n - 1] = direction(words[n - 1]!)!;
    lastName = n - 2;
  }
  if (lastName > first && suffix(words[lastName]!)) out[lastName] = suffix(words[lastName]!)!;
  if (lastName - first >= 2 && direction(words[first]!)) out[first] = direction(words[first]!)!;
  return out.join(' ');
}

export interface StreetParts {
  streetNumber?: string;
  dirPrefix?: string;
  streetName?: string;
  suffix?: string;
  dirSuffix?: string;
  unitNumber?: string;
  unparsed?: string;
}

/**
 * The rules for one street part, memoized: feeds repeat the same directions, suffixes, unit numbers and
 * street names on record after record, and each rule is a few regexes and new strings.
 */
const formatDirection = memoize((w: string): string => direction(w) ?? titleCase(w));
const formatSuffix = memoize((w: string): string => suffix(w) ?? titleCase(w));
const cleanUnitMemo = memoize(cleanUnit);

interface StreetName {
  /** The unit written at the end of the name ("Main St Apt 4"), if any. */
  readonly unit: string | undefined;
  /** Its words in title case, joined by spaces; undefined when no word is left. */
  readonly words: string | undefined;
  /** The same, with a last word that is a suffix abbreviated ("Main Street" -> "Main St"). */
  readonly wordsSuffixed: string | undefined;
}

const streetNameOf = memoize((streetName: string): StreetName => {
  const name = splitUnit(streetName);
  const nameWords = wordsOf(name.street);
  if (nameWords.length === 0) return { unit: name.unit, words: undefined, wordsSuffixed: undefined };
  const named = nameWords.map((w) => titleCase(w));
  const words = named.join(' ');
  const last = nameWords.length > 1 ? suffix(nameWords.at(-1)!) : undefined;
  if (last) named[named.length - 1] = last;
  return { unit: name.unit, words, wordsSuffixed: last ? named.join(' ') : words };
});

/** StreetNumber upper case without spaces ("12 b" -> "12B"); digits alone, the usual case, are left as they are. */
function streetNumberOf(n: string): string {
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c < 48 || c > 57) return n.toUpperCase().replace(/\s+/g, '');
  }
  return n;
}

/** line1 and unit, from the parts when StreetName is present, otherwise from UnparsedAddress. */
export function buildStreet(p: StreetParts): { line1: string; unit: string | undefined } | undefined {
  let unit = p.unitNumber ? cleanUnitMemo(p.unitNumber) : undefined;
  if (p.streetName) {
    const name = streetNameOf(p.streetName);
    unit ??= name.unit;
    const words: string[] = [];
    if (p.streetNumber) words.push(streetNumberOf(p.streetNumber));
    if (p.dirPrefix) words.push(formatDirection(p.dirPrefix));
    // No separate suffix: the name may end with one ("Main Street").
    const named = p.suffix ? name.words : name.wordsSuffixed;
    if (named !== undefined) words.push(named);
    if (p.suffix) words.push(formatSuffix(p.suffix));
    if (p.dirSuffix) words.push(formatDirection(p.dirSuffix));
    return { line1: words.join(' '), unit };
  }
  if (!p.unparsed) return undefined;
  // UnparsedAddress may carry the city and more after a comma: the street line is the first part,
  // unless the unit came first ("Unit 4, 12 Main St").
  const parts = p.unparsed
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let streetPart = parts[0] ?? '';
  if (parts.length > 1 && cleanUnitOnly(streetPart)) {
    unit ??= cleanUnitOnly(streetPart);
    streetPart = parts[1]!;
  } else if (parts.length > 1) {
    const u = cleanUnitOnly(parts[1]!);
    if (u) unit ??= u;
  }
  const split = splitUnit(streetPart);
  unit ??= split.unit;
  let street = split.street;
  // Canadian style "4-123 Main St": unit 4 at number 123.
  const dash = /^([A-Za-z0-9]+)\s*-\s*(\d+[A-Za-z]?)\s+(.*)$/.exec(street);
  if (dash) {
    unit ??= dash[1]!.toUpperCase();
    street = `${dash[2]} ${dash[3]}`;
  }
  const words = wordsOf(street);
  if (words.length === 0) return undefined;
  return { line1: formatStreetWords(words), unit };
}

/** A part that is only a unit designator: "Apt 4", "#4", "Suite 200". */
function cleanUnitOnly(part: string): string | undefined {
  const m = /^(?:#\s*|(?:apt|apartment|unit|suite|ste)\.?\s*#?\s*)([A-Za-z0-9][A-Za-z0-9-]*)$/i.exec(part.trim());
  return m ? m[1]!.toUpperCase() : undefined;
}

const CA_POSTAL = /^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])\s*-?\s*(\d[ABCEGHJ-NPRSTV-Z]\d)$/;

/** Normalizes a postal code for its country, or undefined when it fits neither pattern of that country. */
export function normalizePostalCode(raw: string | number, country: Country): string | undefined {
  if (country === 'US') {
    const s = typeof raw === 'number' ? (Number.isInteger(raw) && raw >= 0 ? String(raw) : '') : raw.trim();
    // Leading zeros lost to numeric coercion: 2134 -> 02134, 21341234 -> 02134-1234.
    if (/^\d{3,5}$/.test(s)) return s.padStart(5, '0');
    if (/^\d{8,9}$/.test(s)) {
      const p = s.padStart(9, '0');
      return `${p.slice(0, 5)}-${p.slice(5)}`;
    }
    const plus4 = /^(\d{5})\s*[-\s]\s*(\d{4})$/.exec(s);
    return plus4 ? `${plus4[1]}-${plus4[2]}` : undefined;
  }
  const m = CA_POSTAL.exec(String(raw).trim().toUpperCase());
  return m ? `${m[1]} ${m[2]}` : undefined;
}

/**
 * Same home, same fingerprint, whichever MLS lists it: country, region, the 5-digit ZIP or full Canadian
 * postal code, line1 and unit, folded to lower case. The city is left out on purpose: MLSs disagree on it
 * (municipality or community, "Toronto" or "North York") where the postal code does not.
 */
export function fingerprint(a: Pick<Address, 'line1' | 'unit' | 'region' | 'postalCode' | 'country'>): string {
  const postal = a.country === 'US' ? a.postalCode.slice(0, 5) : a.postalCode.replace(' ', '');
  const text = `${a.country}|${a.region}|${postal}|${a.line1.toLowerCase()}|${(a.unit ?? '').toLowerCase()}`;
  // crypto.hash: the one-shot form of createHash().update().digest(), same digest without the Hash object.
  return hash('sha256', text, 'hex').slice(0, 32);
}
