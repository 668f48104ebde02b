/** TypeBox pieces every route declaration of the v1 API builds on. */
import { type TSchema, Type } from 'typebox';

/** An object schema that refuses (in requests) or drops (in answers) undeclared keys. */
export const obj = <P extends Record<string, TSchema>>(
  properties: P,
  options: { description?: string } = {},
) => Type.Object(properties, { additionalProperties: false, ...options });
/** `T | null` */
export const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const address = Type.String({
  pattern: '^0x[0-9a-fA-F]{40}$',
  description: 'a 0x-prefixed 20-byte hex address',
  examples: ['0x5B38Da6a701c568545dCfcB03FcB875f56beddC4'],
});
export const decimal = Type.String({
  pattern: '^(0|[1-9]\\d{0,77})$',
  description: 'a non-negative decimal integer string (amounts are strings: they exceed 2^53)',
});
/** A token amount in the token's own units, as people write it (`2.5` of an 18-decimal token). */
export const tokenAmount = (description: string) =>
  Type.String({
    pattern: '^\\d{1,78}(\\.\\d{1,78})?$',
    maxLength: 157,
    description: `${description}: a non-negative decimal amount in the token's units (its decimals()), e.g. 2.5`,
  });
export const unixSeconds = Type.Integer({ minimum: 0, description: 'Unix time in seconds' });
