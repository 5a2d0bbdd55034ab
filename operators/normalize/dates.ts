/** ModificationTimestamp: ISO 8601; without an offset it is UTC. */

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export function parseTimestamp(raw: string): Date | undefined {
  return parseCommonTimestamp(raw) ?? parseIsoTimestamp(raw) ?? parseHttpDate(raw);
}

/** RFC 7231's IMF-fixdate, "Fri, 20 Nov 2015 04:20:45 GMT": the older CREA DDF shape's LastUpdated. */
const HTTP_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function parseHttpDate(raw: string): Date | undefined {
  const s = raw.trim();
  if (!HTTP_DATE.test(s)) return undefined;
  const d = new Date(s);
  // Date rolls "31 Feb" into March: the day must survive the round trip.
  return Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(s.slice(5, 7)) ? undefined : d;
}

/** The general path: every form ISO accepts, with or without offset, through Date's own parser. */
function parseIsoTimestamp(raw: string): Date | undefined {
  const m = ISO.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    return undefined;
  let offset = 'Z';
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = zone.replace(':', '');
    offset = `${z.slice(0, 3)}:${z.slice(3, 5) || '00'}`;
  }
  const ms = (frac + '000').slice(0, 3);
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${offset}`);
  if (Number.isNaN(date.getTime())) return undefined;
  // Reject calendar overflow such as February 30, which Date would roll into March.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  return check.getUTCDate() === Number(d) ? date : undefined;
}

const DIGIT_0 = 48;
const digitAt = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - DIGIT_0;
  return c >= 0 && c <= 9 ? c : Number.NaN;
};
const twoDigits = (s: string, i: number): number => digitAt(s, i) * 10 + digitAt(s, i + 1);

/**
 * The shape nearly every feed sends, `YYYY-MM-DDTHH:MM:SS[.fff…][Z]` (UTC), read digit by digit into
 * Date.UTC: building a string for Date's parser and parsing it again cost more than the rest of the rule.
 * Returns undefined for anything else (other separators, offsets, spaces, lower case, years before 1000),
 * and the caller then takes the general path, which gives the same answer for this shape too: the
 * fraction is truncated to milliseconds, and out-of-range fields (month 13, February 30) are rejected there.
 */
function parseCommonTimestamp(s: string): Date | undefined {
  let end = s.length;
  if (s.charCodeAt(end - 1) === 90 /* Z */) end--;
  if (end < 19 || s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':') return undefined;
  const y = twoDigits(s, 0) * 100 + twoDigits(s, 2);
  const mo = twoDigits(s, 5);
  const d = twoDigits(s, 8);
  const h = twoDigits(s, 11);
  const mi = twoDigits(s, 14);
  const sec = twoDigits(s, 17);
  // NaN (a non-digit) fails every comparison, so it falls to the general path too.
  if (!(y >= 1000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 59)) return undefined;
  let ms = 0;
  if (end > 19) {
    if (s[19] !== '.' || end === 20) return undefined;
    // Milliseconds are the first three fraction digits, zero-padded; the rest must still be digits.
    for (let i = 20; i < end; i++) {
      const digit = digitAt(s, i);
      if (Number.isNaN(digit)) return undefined;
      if (i < 23) ms += digit * (i === 20 ? 100 : i === 21 ? 10 : 1);
    }
  }
  const time = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  const date = new Date(time);
  // February 30 and the like: Date.UTC rolls them into the next month; the rule rejects them.
  return date.getUTCDate() === d ? date : undefined;
}
