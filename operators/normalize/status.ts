/** StandardStatus and PropertyType: RESO values in any case or spacing, plus common legacy values. */
import type { ListingStatus, PropertyType } from '../../schemas/generated/types';
import { memoize } from './memo';

/** Upper case letters and digits only: "Active Under Contract", "ActiveUnderContract", "active_under_contract". */
export const compact = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');

const STATUS: Record<string, ListingStatus> = {
  ACTIVE: 'ACTIVE',
  ACTIVEUNDERCONTRACT: 'ACTIVE_UNDER_CONTRACT',
  PENDING: 'PENDING',
  CLOSED: 'CLOSED',
  COMINGSOON: 'COMING_SOON',
  HOLD: 'HOLD',
  WITHDRAWN: 'WITHDRAWN',
  EXPIRED: 'EXPIRED',
  CANCELED: 'CANCELED',
  DELETE: 'DELETE',
  INCOMPLETE: 'INCOMPLETE',
  // Legacy and MLS-specific spellings.
  NEW: 'ACTIVE',
  NEWLISTING: 'ACTIVE',
  SOLD: 'CLOSED',
  LEASED: 'CLOSED',
  RENTED: 'CLOSED',
  CONTINGENT: 'ACTIVE_UNDER_CONTRACT',
  UNDERCONTRACT: 'ACTIVE_UNDER_CONTRACT',
  ACTIVECONTINGENT: 'ACTIVE_UNDER_CONTRACT',
  ACTIVEOPTIONCONTRACT: 'ACTIVE_UNDER_CONTRACT',
  TEMPOFFMARKET: 'HOLD',
  TEMPORARILYOFFMARKET: 'HOLD',
  ONHOLD: 'HOLD',
  CANCELLED: 'CANCELED',
  DELETED: 'DELETE',
};

// Memoized: feeds repeat a handful of spellings, and compact() (NFD, regexes) is the expensive part.
export const mapStatus: (raw: string) => ListingStatus | undefined = memoize((raw) => STATUS[compact(raw)]);

const PROPERTY_TYPE: Record<string, PropertyType> = {
  RESIDENTIAL: 'RESIDENTIAL',
  RESIDENTIALINCOME: 'RESIDENTIAL_INCOME',
  RESIDENTIALLEASE: 'RESIDENTIAL_LEASE',
  LAND: 'LAND',
  FARM: 'FARM',
  COMMERCIALSALE: 'COMMERCIAL_SALE',
  COMMERCIALLEASE: 'COMMERCIAL_LEASE',
  BUSINESSOPPORTUNITY: 'BUSINESS_OPPORTUNITY',
  MANUFACTUREDINPARK: 'MANUFACTURED_IN_PARK',
  OTHER: 'OTHER',
  // Legacy names seen in US and Canadian feeds.
  SINGLEFAMILY: 'RESIDENTIAL',
  SINGLEFAMILYRESIDENCE: 'RESIDENTIAL',
  CONDO: 'RESIDENTIAL',
  CONDOMINIUM: 'RESIDENTIAL',
  TOWNHOUSE: 'RESIDENTIAL',
  MULTIFAMILY: 'RESIDENTIAL_INCOME',
  INCOME: 'RESIDENTIAL_INCOME',
  RENTAL: 'RESIDENTIAL_LEASE',
  LEASE: 'RESIDENTIAL_LEASE',
  RESIDENTIALRENTAL: 'RESIDENTIAL_LEASE',
  LOTSANDLAND: 'LAND',
  VACANTLAND: 'LAND',
  LOTSLAND: 'LAND',
  FARMRANCH: 'FARM',
  FARMANDRANCH: 'FARM',
  AGRICULTURE: 'FARM',
  COMMERCIAL: 'COMMERCIAL_SALE',
  COMMERCIALINDUSTRIAL: 'COMMERCIAL_SALE',
  BUSINESS: 'BUSINESS_OPPORTUNITY',
  MOBILEHOME: 'MANUFACTURED_IN_PARK',
  MANUFACTUREDHOME: 'MANUFACTURED_IN_PARK',
};

export const mapPropertyType: (raw: string) => PropertyType | undefined = memoize((raw) => PROPERTY_TYPE[compact(raw)]);
