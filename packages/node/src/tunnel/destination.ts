/**
 * Where a tunnel may go. tcp/http services forward to their fixed target; a vpn service forwards to a
 * client-chosen host:port, resolved here at the exit and checked (the resolved IP, not the name)
 * against the service's allow rules, then dialed by IP so a second DNS answer cannot differ.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { RESOLVE_TIMEOUT_MS } from './constants.ts';
import { TunnelError } from './errors.ts';
import type { Destination } from './messages.ts';

/** One allow rule of a vpn service: a CIDR and optional inclusive port ranges (none = every port). */
export interface DestinationRule {
  cidr: string;
  ports?: [number, number][];
}

/** A service this node hosts, as the tunnel server needs it. */
export interface HostedService {
  serviceId: bigint;
  serviceType: string;
  /** Where tcp/http tunnels go. */
  target?: { host: string; port: number };
  /** What vpn tunnels may reach; nothing when empty. */
  allow?: DestinationRule[];
  /** vpn: site subnets routed to L3 clients. */
  subnets?: string[];
  /** vpn: the L3 clients' address pool (default per service id). */
  pool?: string;
}

/** Service types whose tunnels go to the service's fixed target. */
export const TARGET_SERVICE_TYPES: ReadonlySet<string> = new Set(['tcp', 'http']);
/** Service type whose tunnels go where the client asks, within `allow`. */
export const VPN_SERVICE_TYPE = 'vpn';

interface CompiledRule {
  list: BlockList;
  ports: [number, number][] | undefined;
}

/** Parses rules once; throws INTERNAL on a rule that is not a CIDR (a host configuration error). */
export function compileRules(rules: readonly DestinationRule[]): CompiledRule[] {
  return rules.map((rule) => {
    const [addr, prefixText] = rule.cidr.split('/');
    const family = isIP(addr ?? '');
    const prefix = prefixText === undefined ? (family === 6 ? 128 : 32) : Number(prefixText);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new TunnelError(
        'INTERNAL',
        `allow rule "${rule.cidr}" is not a CIDR; fix the service configuration`,
      );
    }
    for (const [from, to] of rule.ports ?? []) {
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > 65535 || from > to) {
        throw new TunnelError('INTERNAL', `allow rule "${rule.cidr}" has a bad port range ${from}-${to}`);
      }
    }
    const list = new BlockList();
    list.addSubnet(addr!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    return { list, ports: rule.ports };
  });
}

/** True when `ip`:`port` falls inside one of the rules. */
export function isAllowed(rules: readonly CompiledRule[], ip: string, port: number): boolean {
  const family = isIP(ip);
  if (!family) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  return rules.some(
    (r) => r.list.check(ip, type) && (!r.ports || r.ports.some(([from, to]) => port >= from && port <= to)),
  );
}

/** Resolves `host` at the exit (bounded in time); IP literals pass through. */
export async function resolveHost(host: string, timeoutMs = RESOLVE_TIMEOUT_MS): Promise<string[]> {
  if (isIP(host)) return [host];
  let timer: NodeJS.Timeout | undefined;
  try {
    const answers = await Promise.race([
      lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TunnelError('RESOLVE_FAILED', `resolving ${host} took over ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return answers.map((a) => a.address);
  } catch (err) {
    if (err instanceof TunnelError) throw err;
    throw new TunnelError('RESOLVE_FAILED', `cannot resolve ${host} at the exit: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The address to dial for a tunnel to `service`, given what the client asked for. Refuses anything
 * the service does not allow with DESTINATION_NOT_ALLOWED.
 */
export async function chooseDestination(
  service: HostedService,
  asked: Destination | null,
  resolve: (host: string) => Promise<string[]> = resolveHost,
): Promise<Destination> {
  if (TARGET_SERVICE_TYPES.has(service.serviceType)) {
    const target = service.target;
    if (!target) {
      throw new TunnelError(
        'TARGET_UNREACHABLE',
        `service ${service.serviceId} has no target configured on its host`,
      );
    }
    if (asked && (asked.host !== target.host || asked.port !== target.port)) {
      throw new TunnelError(
        'DESTINATION_NOT_ALLOWED',
        `service ${service.serviceId} is a ${service.serviceType} service with a fixed target; omit the destination`,
      );
    }
    return { host: target.host, port: target.port };
  }
  if (service.serviceType !== VPN_SERVICE_TYPE) {
    throw new TunnelError(
      'NOT_A_TUNNEL_SERVICE',
      `service ${service.serviceId} is of type "${service.serviceType}", which tunnels do not carry`,
    );
  }
  if (!asked) {
    throw new TunnelError(
      'DESTINATION_REQUIRED',
      `service ${service.serviceId} is a vpn: ask for a host:port inside it`,
    );
  }
  const rules = compileRules(service.allow ?? []);
  const ips = await resolve(asked.host);
  const ip = ips.find((candidate) => isAllowed(rules, candidate, asked.port));
  if (!ip) {
    throw new TunnelError(
      'DESTINATION_NOT_ALLOWED',
      `${asked.host}:${asked.port} (${ips.join(', ') || 'no address'}) is outside what vpn service ${service.serviceId} allows`,
    );
  }
  return { host: ip, port: asked.port };
}
