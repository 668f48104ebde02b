/** Bounds of the organization library: every scan of the chain it makes is bounded by one of these. */

/** Largest organization id accepted as input (the contract counts from 1; 21 digits is beyond any chain). */
export const MAX_ORG_ID_DIGITS = 21;
/** Largest token amount accepted as input, in decimal digits of base units (uint256 has 78). */
export const MAX_AMOUNT_DIGITS = 78;
/** Most services read when looking for an organization's services (the newest ones). */
export const MAX_SERVICES_SCANNED = 2000;
/** Services read from the chain at once. */
export const SERVICE_READ_BATCH = 32;
/** Most grants listed per organization (the newest ones). */
export const MAX_ORG_GRANTS = 500;
