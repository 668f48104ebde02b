/** Parsers of what people type or send for organizations: ids, addresses, amounts. Each throws an OrgError saying what is wrong. */
import { type Address, getAddress, isAddress } from 'viem';
import { MAX_AMOUNT_DIGITS, MAX_ORG_ID_DIGITS } from './constants.ts';
import { OrgError } from './errors.ts';

const ORG_ID = new RegExp(`^[1-9]\\d{0,${MAX_ORG_ID_DIGITS - 1}}$`);
const AMOUNT = new RegExp(`^(0|[1-9]\\d{0,${MAX_AMOUNT_DIGITS - 1}})$`);
const MAX_UINT256 = (1n << 256n) - 1n;

/** An organization id: a positive decimal integer. */
export function parseOrgId(text: string): bigint {
  if (!ORG_ID.test(text)) {
    throw new OrgError(
      'INVALID_ORG_ID',
      `organization "${clip(text)}" is not an id`,
      'give its number (see dibs org list)',
    );
  }
  return BigInt(text);
}

/** A wallet address, any case; returned checksummed. `what` names it in the error ("member", "node"). */
export function parseAddress(text: string, what: string): Address {
  if (!isAddress(text, { strict: false })) {
    throw new OrgError(
      'INVALID_ADDRESS',
      `${what} "${clip(text)}" is not an address`,
      'give a 0x… wallet address',
    );
  }
  return getAddress(text);
}

/** A token amount in base units: a whole decimal number that fits a uint256. */
export function parseAmount(text: string): bigint {
  if (!AMOUNT.test(text) || BigInt(text) > MAX_UINT256) {
    throw new OrgError(
      'INVALID_AMOUNT',
      `amount "${clip(text)}" is not a whole number of base units`,
      'give base units as digits, e.g. 100',
    );
  }
  return BigInt(text);
}

/** Bad input is echoed back, but never at length. */
function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
