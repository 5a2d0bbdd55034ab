/** Numbers as feeds write them: price in cents, living area in both units, counts, and geo. */
import type { Country, Geo } from '../../schemas/generated/types';
import { memoize } from './memo';

/** "$1,250,000", "1250000.00", "C$ 450,000", 450000 -> a positive amount in major units, or undefined. */
export function parseAmount(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const s = raw
    .trim()
    .replace(/^(?:US|CA|C|CAD|USD)?\s*\$?\s*/i, '')
    .replace(/\s*(?:USD|CAD)$/i, '');
  if (!/^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$/.test(s)) return undefined;
  return Number(s.replace(/,/g, ''));
}

/** Cents, rounded; undefined unless > 0 and safe. */
export function toMinor(amount: number): number | undefined {
  const cents = Math.round(amount * 100);
  return cents > 0 && Number.isSafeInteger(cents) ? cents : undefined;
}

/** A plain number from a number or a numeric string ("1,234", " 3 "); undefined otherwise. */
export function parseNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim().replace(/,/g, '');
  return /^-?\d+(?:\.\d+)?$/.test(s) ? Number(s) : undefined;
}

export const SQFT_PER_SQM = 10.7639;
const round1 = (n: number): number => Math.round(n * 10) / 10;

const SQFT_UNITS = new Set([
  'SQUAREFEET',
  'SQUAREFOOT',
  'SQFT',
  'SQFEET',
  'SF',
  'FT2',
  'FT²',
  'FEET',
  'PIEDSCARRES',
  'PI2',
]);
const SQM_UNITS = new Set([
  'SQUAREMETERS',
  'SQUAREMETRES',
  'SQUAREMETER',
  'SQUAREMETRE',
  'SQM',
  'SQMETERS',
  'SQMETRES',
  'M2',
  'M²',
  'METERS',
  'METRES',
  'METRESCARRES',
]);

/** 'ft' | 'm' for a LivingAreaUnits value, or undefined when unknown. Memoized: feeds use a few spellings. */
export const areaUnit: (raw: string) => 'ft' | 'm' | undefined = memoize((raw) => {
  const k = raw
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toUpperCase()
    .replace(/[\s._-]/g, '');
  if (SQFT_UNITS.has(k)) return 'ft';
  if (SQM_UNITS.has(k)) return 'm';
  return undefined;
});

/** Both units from one, rounded to 0.1. Without units: square feet in the US, square metres in Canada. */
export function livingArea(value: number, unit: 'ft' | 'm' | undefined, country: Country) {
  const u = unit ?? (country === 'US' ? 'ft' : 'm');
  return u === 'ft'
    ? { sqft: round1(value), sqm: round1(value / SQFT_PER_SQM) }
    : { sqft: round1(value * SQFT_PER_SQM), sqm: round1(value) };
}

/** Inside North America (lat 14..84, lon -180..-50), else null: a wrong point is worse than none. 0,0 is null. */
export function toGeo(latRaw: unknown, lonRaw: unknown): Geo | null {
  const lat = parseNumber(latRaw);
  const lon = parseNumber(lonRaw);
  if (lat === undefined || lon === undefined) return null;
  if (lat < 14 || lat > 84 || lon < -180 || lon > -50) return null;
  return { lat, lon };
}
