/**
 * A vpn service's address pool: the first host address is the host node's end of the tunnel (the
 * gateway), every other host address goes to one session at a time.
 */
import { DEFAULT_POOL_BASE, DEFAULT_POOL_PREFIX, MAX_POOL_PREFIX, MIN_POOL_PREFIX } from './constants.ts';
import { VpnError } from './errors.ts';
import { type Cidr4, cidrSize, formatCidr4, formatIpv4, parseCidr4, parseIpv4 } from './ipv4.ts';

/** The default pool of service `serviceId` when it sets none: 100.64.(id mod 256).0/24. */
export function defaultPool(serviceId: bigint): string {
  const base = parseIpv4(DEFAULT_POOL_BASE)!;
  return `${formatIpv4(base + Number(serviceId % 256n) * 256)}/${DEFAULT_POOL_PREFIX}`;
}

/** Checks a pool CIDR a service may use; BAD_CONFIG otherwise. */
export function parsePool(text: string): Cidr4 {
  const c = parseCidr4(text, 'address pool');
  if (c.prefix < MIN_POOL_PREFIX || c.prefix > MAX_POOL_PREFIX) {
    throw new VpnError(
      'BAD_CONFIG',
      `address pool ${text} must be a /${MIN_POOL_PREFIX} … /${MAX_POOL_PREFIX}`,
      'e.g. --pool 100.64.7.0/24',
    );
  }
  return c;
}

/** Allocates session addresses from one pool. */
export class AddressPool {
  readonly cidr: Cidr4;
  /** The host node's own address in the pool. */
  readonly gateway: string;
  readonly #used = new Set<number>();
  #next: number;

  constructor(text: string) {
    this.cidr = parsePool(text);
    this.gateway = formatIpv4(this.cidr.network + 1);
    this.#next = this.cidr.network + 2;
  }

  /** The pool as text. */
  get text(): string {
    return formatCidr4(this.cidr);
  }

  /** Addresses given out now. */
  get used(): number {
    return this.#used.size;
  }

  /** A free address (round robin, so a just-released address is not reused at once). */
  allocate(): string {
    const first = this.cidr.network + 2;
    const last = this.cidr.network + cidrSize(this.cidr) - 2;
    const span = last - first + 1;
    for (let i = 0; i < span; i++) {
      const candidate = first + ((this.#next - first + i) % span);
      if (this.#used.has(candidate)) continue;
      this.#used.add(candidate);
      this.#next = candidate + 1 > last ? first : candidate + 1;
      return formatIpv4(candidate);
    }
    throw new VpnError(
      'POOL_EXHAUSTED',
      `every address of pool ${this.text} is in use (${span} sessions)`,
      'publish the service with a larger --pool',
    );
  }

  /** Gives an address back. */
  release(address: string): void {
    const n = parseIpv4(address);
    if (n !== undefined) this.#used.delete(n);
  }
}
