/**
 * cborg decode options for every CBOR wire message: one accepted form only — no indefinite lengths,
 * undefined, Infinity, NaN, bigints or duplicate map keys, and nothing left over after the value.
 */
export const STRICT_CBOR_DECODE = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
} as const;
