/**
 * Parsing of what a publisher types: `host:port` targets and vpn allow rules `cidr[:ports]`, where
 * ports are `80`, `80-443` or several joined by `+` (`22+80-443`); a bare address is a /32 or /128.
 */
import { isIP } from 'node:net';
import type { DestinationRule } from '../tunnel/destination.ts';
import { MAX_RULE_PORT_RANGES, MAX_TARGET_CHARS } from './constants.ts';
import { ServiceError } from './errors.ts';

/** A host and port. */
export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function badTarget(text: string, why: string): ServiceError {
  return new ServiceError(
    'BAD_TARGET',
    `target "${text.slice(0, 80)}" ${why}`,
    'give host:port, e.g. 127.0.0.1:8080 or [::1]:8080',
  );
}

/** Parses `host:port` (IPv6 in brackets). */
export function parseHostPort(text: string): HostPort {
  if (text.length === 0 || text.length > MAX_TARGET_CHARS) throw badTarget(text, 'is empty or too long');
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) throw badTarget(text, 'is not host:port');
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw badTarget(text, 'has a port outside 1-65535');
  if (text.startsWith('[') ? isIP(host) !== 6 : !isIP(host) && !HOSTNAME.test(host)) {
    throw badTarget(text, 'has an invalid host');
  }
  return { host, port };
}

/** Formats a host and port back to `host:port`. */
export function formatHostPort(t: HostPort): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

function badRule(text: string, why: string): ServiceError {
  return new ServiceError(
    'BAD_ALLOW_RULE',
    `allow rule "${text.slice(0, 80)}" ${why}`,
    'give cidr[:ports], e.g. 10.0.0.0/8, 192.168.1.5/32:22, [fd00::/8]:80-443 or 10.1.0.0/16:22+80-443',
  );
}

/** Parses one allow rule. */
export function parseAllowRule(text: string): DestinationRule {
  if (text.length === 0 || text.length > MAX_TARGET_CHARS) throw badRule(text, 'is empty or too long');
  let cidr: string;
  let portsText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.+))?$/.exec(text);
  if (v6) {
    cidr = v6[1]!;
    portsText = v6[2];
  } else if (text.indexOf(':') !== text.lastIndexOf(':')) {
    // An unbracketed IPv6 CIDR: no port part possible.
    cidr = text;
  } else {
    const i = text.indexOf(':');
    cidr = i < 0 ? text : text.slice(0, i);
    portsText = i < 0 ? undefined : text.slice(i + 1);
  }
  const [addr = '', prefixText] = cidr.split('/');
  const family = isIP(addr);
  const max = family === 6 ? 128 : 32;
  if (!family) throw badRule(text, 'does not start with an IP address or CIDR');
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw badRule(text, 'has a bad prefix');
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) throw badRule(text, `has a prefix over /${max}`);
  const rule: DestinationRule = { cidr: `${addr}/${prefix}` };
  if (portsText !== undefined) {
    const parts = portsText.split('+');
    if (parts.length > MAX_RULE_PORT_RANGES) throw badRule(text, 'has too many port ranges');
    rule.ports = parts.map((p) => {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(p);
      if (!m) throw badRule(text, `has a bad port range "${p}"`);
      const from = Number(m[1]);
      const to = m[2] === undefined ? from : Number(m[2]);
      if (from < 1 || to > 65535 || from > to) throw badRule(text, `has a bad port range "${p}"`);
      return [from, to] as [number, number];
    });
  }
  return rule;
}

/** Formats a rule back to its text form. */
export function formatAllowRule(rule: DestinationRule): string {
  const cidr = rule.cidr.includes(':') ? `[${rule.cidr}]` : rule.cidr;
  if (!rule.ports) return cidr;
  return `${cidr}:${rule.ports.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join('+')}`;
}
