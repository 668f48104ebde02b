/**
 * One WireGuard interface: wireguard-go as a supervised child (foreground, dies with the node through
 * the parent-death signal), configured over its UAPI socket; addresses and routes with `ip`.
 * Destroying it deletes the interface, which takes its routes and the UAPI socket with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, unlink } from 'node:fs/promises';
import {
  DEVICE_START_TIMEOUT_MS,
  DEVICE_STOP_TIMEOUT_MS,
  MAX_INTERFACE_NAME,
  PERSISTENT_KEEPALIVE_S,
  WG_MTU,
} from './constants.ts';
import { VpnError } from './errors.ts';
import { runCommand } from './exec.ts';
import { keyHex } from './keys.ts';
import { type UapiDevice, uapiGet, uapiPath, uapiSet } from './uapi.ts';

/** A peer's configuration. */
export interface PeerConfig {
  publicKey: Uint8Array;
  /** CIDRs the peer may send from and we route to it. */
  allowedIps: string[];
  /** `ip:port`; omitted = learnt from the peer's handshake. */
  endpoint?: string;
  /** Seconds; default PERSISTENT_KEEPALIVE_S; 0 = off. */
  keepaliveS?: number;
}

/** Options of {@link WireGuardDevice.create}. */
export interface DeviceOptions {
  name: string;
  privateKey: Uint8Array;
  /** UDP port; 0 = any free one. */
  listenPort?: number;
  /** The wireguard-go binary; default from PATH. */
  binary?: string;
  onExit?: (reason: string) => void;
  /** Bring the link up now (default); `false` leaves it to {@link WireGuardDevice.configure}. */
  up?: boolean;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** A running wireguard-go interface. */
export class WireGuardDevice {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #socket: string;
  #listenPort = 0;
  #destroyed = false;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#socket = uapiPath(name);
  }

  /** Starts wireguard-go for `name`, sets its key and port, brings the link up. */
  static async create(options: DeviceOptions): Promise<WireGuardDevice> {
    const { name } = options;
    if (!/^[a-zA-Z0-9_-]+$/.test(name) || name.length > MAX_INTERFACE_NAME) {
      throw new VpnError('BAD_CONFIG', `"${name}" is not a valid interface name`);
    }
    const binary = options.binary ?? 'wireguard-go';
    // A wireguard-go killed with its node (parent-death signal) leaves its socket file behind; the name
    // is this node's own, so whatever is there is stale.
    await unlink(uapiPath(name)).catch(() => {});
    // The parent-death signal ends wireguard-go (and with it the interface) if the node is SIGKILLed:
    // no tunnel outlives the node that enforces its grant.
    const argv = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', binary, '-f', name] : [binary, '-f', name];
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const device = new WireGuardDevice(name, child);
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`cannot start ${binary}: ${err.message}`));
      child.once('exit', (code, signal) =>
        resolve(`wireguard-go exited (${code ?? signal}) ${stderr.trim()}`),
      );
    });
    void exited.then((reason) => {
      if (!device.#destroyed) options.onExit?.(reason);
    });
    try {
      const deadline = Date.now() + DEVICE_START_TIMEOUT_MS;
      let early: string | undefined;
      void exited.then((r) => {
        early = r;
      });
      for (;;) {
        if (early !== undefined) {
          throw new VpnError(
            'DEVICE_FAILED',
            `wireguard-go did not start interface ${name}: ${early.slice(0, 400)}`,
          );
        }
        if (
          // Ready once it answers, not merely once the file exists.
          await access(device.#socket)
            .then(() => uapiGet(device.#socket))
            .then(
              () => true,
              () => false,
            )
        )
          break;
        if (Date.now() > deadline) {
          throw new VpnError(
            'DEVICE_FAILED',
            `wireguard-go did not create ${device.#socket} within ${DEVICE_START_TIMEOUT_MS} ms`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await uapiSet(device.#socket, [
        `private_key=${keyHex(options.privateKey)}`,
        `listen_port=${options.listenPort ?? 0}`,
      ]);
      device.#listenPort = (await uapiGet(device.#socket)).listenPort;
      if (options.up !== false) await device.configure({});
      return device;
    } catch (err) {
      await device.destroy();
      throw err;
    }
  }

  /** The UDP port wireguard-go listens on. */
  get listenPort(): number {
    return this.#listenPort;
  }

  /** wireguard-go's PID. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * Brings the link up with WireGuard's MTU, adds `addresses` and routes `routes` into it — one `ip`
   * process for all of it (`ip -batch`), since spawning dominates on a busy host. ROUTE_CONFLICT when
   * another route claims one of the routes.
   */
  async configure(params: { addresses?: string[]; routes?: string[] }): Promise<void> {
    const lines = [`link set dev ${this.name} mtu ${WG_MTU} up`];
    for (const a of params.addresses ?? []) lines.push(`address add ${a} dev ${this.name}`);
    for (const r of params.routes ?? []) lines.push(`route add ${r} dev ${this.name}`);
    try {
      await runCommand('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
    } catch (err) {
      if (!/route add/.test((err as Error).message) && !/File exists/.test((err as Error).message)) throw err;
      throw new VpnError(
        'ROUTE_CONFLICT',
        `cannot route ${(params.routes ?? []).join(', ')} into the VPN: ${(err as Error).message}`,
        'another interface or VPN already routes that subnet; take it down first',
        { cause: err },
      );
    }
  }

  /** Adds or replaces a peer (its allowed IPs are replaced, not merged). */
  async setPeer(peer: PeerConfig): Promise<void> {
    const lines = [`public_key=${keyHex(peer.publicKey)}`, 'replace_allowed_ips=true'];
    for (const ip of peer.allowedIps) lines.push(`allowed_ip=${ip}`);
    if (peer.endpoint) lines.push(`endpoint=${peer.endpoint}`);
    lines.push(`persistent_keepalive_interval=${peer.keepaliveS ?? PERSISTENT_KEEPALIVE_S}`);
    await uapiSet(this.#socket, lines);
  }

  /** Points a peer at another endpoint (WireGuard keeps its session; the other side roams). */
  async setEndpoint(publicKey: Uint8Array, endpoint: string): Promise<void> {
    await uapiSet(this.#socket, [
      `public_key=${keyHex(publicKey)}`,
      'update_only=true',
      `endpoint=${endpoint}`,
      // Turning the keepalive off and on makes wireguard-go send one now (it does so only when it was
      // off), over the new endpoint: the other side hears us there at once and roams.
      'persistent_keepalive_interval=0',
      `persistent_keepalive_interval=${PERSISTENT_KEEPALIVE_S}`,
    ]);
  }

  /** Turns a peer's keepalive on (it sends one at once when it was off). */
  async setKeepalive(publicKey: Uint8Array, seconds = PERSISTENT_KEEPALIVE_S): Promise<void> {
    await uapiSet(this.#socket, [
      `public_key=${keyHex(publicKey)}`,
      'update_only=true',
      `persistent_keepalive_interval=${seconds}`,
    ]);
  }

  /** Removes a peer: its packets are refused from now on. */
  async removePeer(publicKey: Uint8Array): Promise<void> {
    await uapiSet(this.#socket, [`public_key=${keyHex(publicKey)}`, 'remove=true']);
  }

  /** The device's state with per-peer counters. */
  state(): Promise<UapiDevice> {
    return uapiGet(this.#socket);
  }

  /** Deletes the interface (routes go with it) and stops wireguard-go by its PID. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await runCommand('ip', ['link', 'del', 'dev', this.name]).catch(() => {});
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), DEVICE_STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
