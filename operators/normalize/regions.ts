/** US states, DC, and Canadian provinces and territories; countries. Names match without accents or case. */
import type { Country } from '../../schemas/generated/types';
import { memoize } from './memo';

const US: Record<string, string> = {
  AL: 'Alabama',
  AK: 'Alaska',
  AZ: 'Arizona',
  AR: 'Arkansas',
  CA: 'California',
  CO: 'Colorado',
  CT: 'Connecticut',
  DE: 'Delaware',
  DC: 'District of Columbia',
  FL: 'Florida',
  GA: 'Georgia',
  HI: 'Hawaii',
  ID: 'Idaho',
  IL: 'Illinois',
  IN: 'Indiana',
  IA: 'Iowa',
  KS: 'Kansas',
  KY: 'Kentucky',
  LA: 'Louisiana',
  ME: 'Maine',
  MD: 'Maryland',
  MA: 'Massachusetts',
  MI: 'Michigan',
  MN: 'Minnesota',
  MS: 'Mississippi',
  MO: 'Missouri',
  MT: 'Montana',
  NE: 'Nebraska',
  NV: 'Nevada',
  NH: 'New Hampshire',
  NJ: 'New Jersey',
  NM: 'New Mexico',
  NY: 'New York',
  NC: 'North Carolina',
  ND: 'North Dakota',
  OH: 'Ohio',
  OK: 'Oklahoma',
  OR: 'Oregon',
  PA: 'Pennsylvania',
  RI: 'Rhode Island',
  SC: 'South Carolina',
  SD: 'South Dakota',
  TN: 'Tennessee',
  TX: 'Texas',
  UT: 'Utah',
  VT: 'Vermont',
  VA: 'Virginia',
  WA: 'Washington',
  WV: 'West Virginia',
  WI: 'Wisconsin',
  WY: 'Wyoming',
};

const CA: Record<string, string> = {
  AB: 'Alberta',
  BC: 'British Columbia',
  MB: 'Manitoba',
  NB: 'New Brunswick',
  NL: 'Newfoundland and Labrador',
  NS: 'Nova Scotia',
  NT: 'Northwest Territories',
  NU: 'Nunavut',
  ON: 'Ontario',
  PE: 'Prince Edward Island',
  QC: 'Quebec',
  SK: 'Saskatchewan',
  YT: 'Yukon',
};

/** Other names in use, including French ones. */
const EXTRA: Record<string, string> = {
  'WASHINGTON DC': 'DC',
  'WASHINGTON D C': 'DC',
  'D C': 'DC',
  NEWFOUNDLAND: 'NL',
  'NEWFOUNDLAND LABRADOR': 'NL',
  'NEWFOUNDLAND AND LABRADOR': 'NL',
  'TERRE NEUVE ET LABRADOR': 'NL',
  NF: 'NL',
  'YUKON TERRITORY': 'YT',
  PEI: 'PE',
  'P E I': 'PE',
  'ILE DU PRINCE EDOUARD': 'PE',
  'COLOMBIE BRITANNIQUE': 'BC',
  'NOUVEAU BRUNSWICK': 'NB',
  'NOUVELLE ECOSSE': 'NS',
  'TERRITOIRES DU NORD OUEST': 'NT',
  PQ: 'QC',
  QUE: 'QC',
};

/** Upper case, accents removed, punctuation and `&` as spaces: "Québec" -> "QUEBEC", "P.E.I." -> "P E I". */
export const foldName = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toUpperCase()
    .replace(/&/g, ' AND ')
    .replace(/[^A-Z0-9]+/g, ' ')
    .trim();

export type Region = { readonly code: string; readonly country: Country };

const REGIONS = new Map<string, Region>();
for (const [country, table] of [
  ['US', US],
  ['CA', CA],
] as const) {
  for (const [code, name] of Object.entries(table)) {
    REGIONS.set(code, { code, country });
    REGIONS.set(foldName(name), { code, country });
  }
}
for (const [name, code] of Object.entries(EXTRA))
  REGIONS.set(foldName(name), { code, country: code in CA ? 'CA' : 'US' });

// Memoized: a feed spells its regions a few ways, and foldName (NFD, regexes) is the expensive part.
export const lookupRegion: (raw: string) => Region | undefined = memoize((raw) => {
  const f = foldName(raw);
  return REGIONS.get(f) ?? REGIONS.get(f.replace(/ /g, ''));
});

const COUNTRIES: Record<string, Country> = {
  US: 'US',
  USA: 'US',
  'U S': 'US',
  'U S A': 'US',
  'UNITED STATES': 'US',
  'UNITED STATES OF AMERICA': 'US',
  AMERICA: 'US',
  CA: 'CA',
  CAN: 'CA',
  CANADA: 'CA',
};

export const lookupCountry: (raw: string) => Country | undefined = memoize((raw) => COUNTRIES[foldName(raw)]);
