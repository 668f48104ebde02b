/** Token amounts as people write them: decimals in the token's units, converted to base units. */
import { parseUnits } from 'viem';
import { ServiceError } from './errors.ts';

const MAX_UINT256 = (1n << 256n) - 1n;

/**
 * A decimal token amount (`"2.5"`, `"100"`) in base units of a token with `decimals` decimals; a
 * ServiceError when it is not a plain non-negative decimal, has more fraction digits than the token
 * or does not fit 256 bits.
 */
export function parseTokenAmount(text: string, decimals: number, what = 'token threshold'): bigint {
  const m = /^(\d{1,78})(?:\.(\d{1,78}))?$/.exec(text.trim());
  if (!m || (m[2] !== undefined && m[2].replace(/0+$/, '').length > decimals)) {
    throw new ServiceError(
      'BAD_TOKEN_AMOUNT',
      `${what} "${text.slice(0, 40)}" is not an amount of a token with ${decimals} decimals`,
      decimals > 0
        ? `give a decimal amount with at most ${decimals} digits after the point, e.g. 2.5`
        : 'give a whole number of base units (this token has no decimals), e.g. 100',
    );
  }
  const value = parseUnits(text.trim(), decimals);
  if (value > MAX_UINT256) {
    throw new ServiceError(
      'BAD_TOKEN_AMOUNT',
      `${what} "${text.slice(0, 40)}" is too large`,
      'give a smaller amount',
    );
  }
  return value;
}
