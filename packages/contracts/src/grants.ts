import { GRANT_SERVICE_SHIFT } from './constants.ts';

/** The service a grant id belongs to (grant ids embed their service id). */
export function serviceIdOfGrant(grantId: bigint): bigint {
  return grantId >> GRANT_SERVICE_SHIFT;
}

/** The position of a grant among its service's grants, counting from 1. */
export function grantSequence(grantId: bigint): bigint {
  return grantId & ((1n << GRANT_SERVICE_SHIFT) - 1n);
}

/** The grant id of the `sequence`-th grant of service `serviceId`. */
export function grantIdOf(serviceId: bigint, sequence: bigint): bigint {
  return (serviceId << GRANT_SERVICE_SHIFT) | sequence;
}
