/**
 * bench/admission-flood helper, run as a child process. Gets {target, dataPort, attempts, rate,
 * peers, concurrency, spewers} over IPC, then:
 * - `peers` libp2p identities without any grant dial the node again and again, `rate` dials a second
 *   in all, and present a network ticket at admission: half random bytes, half well-formed tickets of
 *   unregistered clients (the verifier's catch-up wait for an unknown key is its slow path); each
 *   hangs up 300 ms after its dial unless the node did first; until `attempts` dials were made;
 * - `spewers` raw TCP sockets write random bytes at the node's libp2p listener and at its tunnel
 *   data-channel listener, reconnecting whenever the node hangs up.
 * {pause: true} / {resume: true} hold and restart both (the bench measures between). Reports
 * {progress: {attempts, admissionRefused, dialFailed, …}} every second and {done: …} at the end.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { issueTicket, NETWORK_SERVICE_TYPE } from '@dibs/core';
import { multiaddr } from '@multiformats/multiaddr';
import { createDibsHost, type DibsHost } from '../../packages/node/src/p2p/host.ts';
import { silentLogger } from '../../packages/node/src/p2p/log.ts';

interface FloodSettings {
  target: string;
  dataPort: number | null;
  chainId: number;
  accessGrants: string;
  networkServiceId: string;
  attempts: number;
  rate: number;
  peers: number;
  concurrency: number;
  spewers: number;
}

const settings = await new Promise<FloodSettings>((resolve) =>
  process.once('message', (m: { flood: FloodSettings }) => resolve(m.flood)),
);
const target = multiaddr(settings.target);
const counts = { attempts: 0, admissionRefused: 0, dialFailed: 0, spewConnections: 0, spewBytes: 0 };
let stopping = false;
let paused = false;
let resumed = Promise.withResolvers<void>();
const spewing = new Set<Socket>();
process.on('message', (m: { pause?: boolean; resume?: boolean }) => {
  if (m.pause && !paused) {
    paused = true;
    resumed = Promise.withResolvers<void>();
    for (const sock of spewing) sock.destroy();
  }
  if (m.resume && paused) {
    paused = false;
    resumed.resolve();
    startSpewers();
  }
});

/** An unticketed peer: its "network ticket" is garbage or a ticket of a client nobody registered. */
async function unticketedPeer(i: number): Promise<DibsHost> {
  // Tickets bound to the node are made once per peer and presented again and again: the node has
  // to take each apart anyway, and the flood's CPU goes into dialing.
  let made: Uint8Array | undefined;
  return createDibsHost({
    // A fresh secp256k1 identity of its own (random 32 bytes are a valid key but for ~2^-128).
    privateKey: new Uint8Array(randomBytes(32)),
    listen: [],
    logger: silentLogger,
    admissionTimeoutMs: 5_000,
    authority: {
      async credentialFor(remote, challenge) {
        if (i % 2 === 0) return { ticket: randomBytes(200 + (i % 300)), authenticator: randomBytes(120) };
        if (made) return { ticket: made, authenticator: randomBytes(120) };
        const clientKey = randomBytes(32);
        const issued = issueTicket({
          kind: 'network',
          grant: {
            grantId: BigInt(1 + i),
            serviceId: BigInt(settings.networkServiceId),
            expiresAt: 2n ** 40n,
          },
          chainId: settings.chainId,
          contract: settings.accessGrants,
          client: { address: `0x${randomBytes(20).toString('hex')}`, encryptionPrivateKey: clientKey },
          service: {
            serviceId: BigInt(settings.networkServiceId),
            serviceType: NETWORK_SERVICE_TYPE,
            peerId: remote.toMultihash().bytes,
            encryptionPublicKey: randomBytes(32),
          },
        });
        void challenge;
        made = issued.ticket;
        return { ticket: issued.ticket, authenticator: randomBytes(120) };
      },
      async verify() {
        throw Object.assign(new Error('a flooder admits no one'), { code: 'REFUSED' });
      },
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let nextSlot = Date.now();
/** Spaces the dials of all attackers `1000 / rate` ms apart. */
async function slot(): Promise<void> {
  const at = Math.max(nextSlot, Date.now());
  nextSlot = at + 1000 / settings.rate;
  if (at > Date.now()) await sleep(at - Date.now());
}

async function attacker(host: DibsHost): Promise<void> {
  while (!stopping && counts.attempts < settings.attempts) {
    while (paused) await resumed.promise;
    await slot();
    if (counts.attempts >= settings.attempts) break;
    counts.attempts++;
    try {
      const conn = await host.libp2p.dial(target, { signal: AbortSignal.timeout(3_000) });
      // Admission runs on the new connection; the node refuses our ticket and hangs up.
      for (let i = 0; i < 12 && conn.status === 'open'; i++) await sleep(25);
      if (conn.status === 'open') await conn.close().catch(() => {});
      else counts.admissionRefused++;
    } catch {
      counts.dialFailed++;
    }
  }
}

/** Random bytes at a raw listener until the node hangs up, then again. */
function spew(port: number): void {
  if (stopping || paused) return;
  const s: Socket = connect({ host: '127.0.0.1', port });
  spewing.add(s);
  counts.spewConnections++;
  let timer: NodeJS.Timeout | undefined;
  const pump = () => {
    if (s.destroyed || stopping) return;
    const chunk = randomBytes(4096);
    counts.spewBytes += chunk.length;
    if (s.write(chunk)) timer = setTimeout(pump, 2);
    else s.once('drain', pump);
  };
  s.on('connect', pump);
  s.on('error', () => {});
  s.on('close', () => {
    spewing.delete(s);
    clearTimeout(timer);
    setTimeout(() => spew(port), 20);
  });
}

const peers: DibsHost[] = [];
for (let i = 0; i < settings.peers; i++) peers.push(await unticketedPeer(i));
const tcpPort = Number(/\/tcp\/(\d+)/.exec(settings.target)?.[1]);
function startSpewers(): void {
  for (let i = 0; i < settings.spewers; i++) {
    spew(tcpPort);
    if (settings.dataPort) spew(settings.dataPort);
  }
}
startSpewers();
const progress = setInterval(() => process.send?.({ progress: { ...counts } }), 1000);
const started = Date.now();
const workers = [];
for (let i = 0; i < settings.concurrency; i++) workers.push(attacker(peers[i % peers.length]!));
await Promise.all(workers);
stopping = true;
for (const sock of spewing) sock.destroy();
clearInterval(progress);
process.send?.({ done: { ...counts, seconds: (Date.now() - started) / 1000 } });
await Promise.all(peers.map((p) => p.stop().catch(() => {})));
process.exit(0);
