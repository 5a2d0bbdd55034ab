/** ModificationTimestamp: ISO 8601; without an offset it is UTC. */

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export function parseTimestamp(raw: string): Date | undefined {
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
