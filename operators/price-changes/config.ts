/**
 * price-changes configuration (environment: LISTFLOW_PRICE_CHANGES_*). Nothing to configure yet; the spec
 * exists so that a stray LISTFLOW_PRICE_CHANGES_* variable is reported as unknown.
 */
import { type ConfigOf, defineConfig } from '../../runtime/config';

export const priceChangesConfig = defineConfig({});

export type PriceChangesConfig = ConfigOf<typeof priceChangesConfig.fields>;
