/**
 * Ticket benchmark: full ticket + authenticator verifications per second on one core, beside an
 * ES256K JWT carrying the same claims, plus client-side issue and authenticator rates.
 *
 * What "full" means here: every verification is a ticket the verifier has never seen (SHA-256, decode,
 * HKDF-Expand of the per-ticket key from the client's pairwise key, ChaCha20-Poly1305, body decode,
 * grant/service/time checks, authenticator key) plus a fresh authenticator (decode, HMAC, PeerId →
 * address, clock, replay cache insert). Tickets come round-robin from CLIENTS distinct clients. Cached
 * across verifications, as a node does: the grant cache, the pairwise key (static-static X25519 +
 * HKDF-Extract) per client identity, computed at that client's first ticket, and the PeerId → address
 * mapping per client. Headline `verify_per_sec` = new ticket each time, pairwise key cached.
 * `verify_cold_per_sec` = each client's first ticket on a fresh verifier: its pairwise X25519 and its
 * PeerId → address mapping (secp256k1 decompression + keccak) are computed then.
 * `verify_reuse_per_sec` = already seen tickets re-presented with fresh authenticators.
 *
 * Baseline: jose 6 has no ES256K (it is WebCrypto-only and no WebCrypto offers secp256k1), so the
 * ES256K JWT is verified the way jwtVerify does it — jose's header/payload decoders, one ECDSA
 * secp256k1 signature check through node:crypto (OpenSSL, KeyObject), claim checks. jose's own
 * jwtVerify on an ES256 (P-256) token is printed for reference.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import {
  createAuthenticator,
  defaultTicketCrypto,
  GrantCache,
  issueTicket,
  ReplayCache,
  secp256k1PeerIdToAddress,
  TicketVerifier,
  type X25519Key,
} from '@dibs/core';
import { base64url, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';

const CLIENTS = Number(process.env.BENCH_TICKETS_CLIENTS ?? 1000);
const POOL = Number(process.env.BENCH_TICKETS_POOL ?? 8000);
const ROUNDS = Number(process.env.BENCH_TICKETS_ROUNDS ?? 3);
const CHAIN_ID = 31337;
const CONTRACT = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const SERVICE_ID = 2n;
const SKEW_S = 600;

const crypto = defaultTicketCrypto();

interface Client {
  address: `0x${string}`;
  peerId: Uint8Array;
  key: X25519Key;
  rawKey: Uint8Array;
  grantId: bigint;
}

async function identity(): Promise<{ peerId: Uint8Array; address: `0x${string}` }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toMultihash().bytes;
  const address = secp256k1PeerIdToAddress(peerId);
  if (!address) throw new Error('secp256k1 PeerId without address');
  return { peerId, address };
}

function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const node = await identity();
const nodeKey = crypto.x25519Key(crypto.randomBytes(32));
const cache = new GrantCache();
const now = Date.now();
const grantExpires = BigInt(Math.floor(now / 1000) + 86_400);
cache.applyService({ serviceId: SERVICE_ID, serviceType: 'tcp', host: node.address, active: true });
const clients: Client[] = [];
for (let i = 0; i < CLIENTS; i++) {
  const id = await identity();
  const rawKey = crypto.randomBytes(32);
  const key = crypto.x25519Key(rawKey);
  const grantId = BigInt(100 + i);
  cache.applyIdentity({ account: id.address, encryptionKey: key.publicKey });
  cache.applyGrantIssued({
    grantId,
    serviceId: SERVICE_ID,
    grantee: id.address,
    issuedAt: BigInt(Math.floor(now / 1000)),
    expiresAt: grantExpires,
  });
  clients.push({ ...id, key, rawKey, grantId });
}

/** Issues `n` tickets round-robin over the clients; `rawKeys` passes a new key array each time (no client cache). */
function issuePool(n: number, rawKeys = false) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = clients[i % CLIENTS]!;
    out.push({
      client: c,
      ...issueTicket({
        kind: 'service',
        grant: { grantId: c.grantId, serviceId: SERVICE_ID, expiresAt: grantExpires },
        chainId: CHAIN_ID,
        contract: CONTRACT,
        client: { address: c.address, encryptionPrivateKey: rawKeys ? c.rawKey.slice() : c.key },
        service: {
          serviceId: SERVICE_ID,
          serviceType: 'tcp',
          peerId: node.peerId,
          encryptionPublicKey: nodeKey.publicKey,
        },
        crypto,
      }),
    });
  }
  return out;
}

type Pool = ReturnType<typeof issuePool>;

function authenticators(pool: Pool): Uint8Array[] {
  return pool.map((t) =>
    createAuthenticator({
      ticketHash: t.ticketHash,
      sessionKey: t.sessionKey,
      clientPeerId: t.client.peerId,
      servicePeerId: node.peerId,
      crypto,
    }),
  );
}

function makeVerifier(ticketCacheEntries: number): TicketVerifier {
  return new TicketVerifier({
    encryptionPrivateKey: nodeKey,
    peerId: node.peerId,
    chainId: CHAIN_ID,
    contract: CONTRACT,
    cache,
    replayCache: new ReplayCache({ maxEntries: POOL * ROUNDS * 4 }),
    ticketCacheEntries,
    crypto,
  });
}

function verifyAll(v: TicketVerifier, pool: Pool, auths: Uint8Array[], from = 0, to = pool.length): number {
  const t0 = performance.now();
  for (let i = from; i < to; i++) {
    v.verify({ ticket: pool[i]!.ticket, authenticator: auths[i]!, remotePeerId: pool[i]!.client.peerId });
  }
  return rate(to - from, performance.now() - t0);
}

// ES256K JWTs with the same claims: subject, grant, service, type, node, issue/expiry, nonce.
const jwtKeys = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const jwtPublic: KeyObject = createPublicKey(jwtKeys.publicKey.export({ format: 'pem', type: 'spki' }));
const jwtPrivate: KeyObject = createPrivateKey(jwtKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }));
const enc = new TextEncoder();
const b64 = (bytes: Uint8Array) => base64url.encode(bytes);
const nodePeerB64 = b64(node.peerId);

function es256kJwt(c: Client): string {
  const header = b64(enc.encode(JSON.stringify({ alg: 'ES256K', typ: 'JWT' })));
  const iat = Math.floor(Date.now() / 1000);
  const payload = b64(
    enc.encode(
      JSON.stringify({
        sub: c.address,
        aud: nodePeerB64,
        gid: c.grantId.toString(),
        sid: SERVICE_ID.toString(),
        st: 'tcp',
        chain: CHAIN_ID,
        ctr: CONTRACT,
        iat,
        nbf: iat,
        exp: iat + 3600,
        jti: b64(crypto.randomBytes(16)),
      }),
    ),
  );
  const sig = sign('sha256', enc.encode(`${header}.${payload}`), {
    key: jwtPrivate,
    dsaEncoding: 'ieee-p1363',
  });
  return `${header}.${payload}.${b64(sig)}`;
}

/** What jwtVerify does for one token: decode, check alg, verify signature, check claims. */
function verifyEs256k(token: string, key: KeyObject): void {
  const dot2 = token.lastIndexOf('.');
  const header = decodeProtectedHeader(token);
  if (header.alg !== 'ES256K') throw new Error('alg');
  const ok = verify(
    'sha256',
    enc.encode(token.slice(0, dot2)),
    { key, dsaEncoding: 'ieee-p1363' },
    base64url.decode(token.slice(dot2 + 1)),
  );
  if (!ok) throw new Error('signature');
  const claims = decodeJwt(token);
  const t = Math.floor(Date.now() / 1000);
  if (claims.aud !== nodePeerB64) throw new Error('aud');
  if (typeof claims.exp !== 'number' || claims.exp <= t - SKEW_S) throw new Error('exp');
  if (typeof claims.nbf !== 'number' || claims.nbf > t + SKEW_S) throw new Error('nbf');
  if (typeof claims.iat !== 'number' || claims.iat > t + SKEW_S) throw new Error('iat');
}

function verifyJwts(tokens: string[]): number {
  const t0 = performance.now();
  for (const tok of tokens) verifyEs256k(tok, jwtPublic);
  return rate(tokens.length, performance.now() - t0);
}

async function joseEs256Rate(n: number): Promise<number> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = clients[i % CLIENTS]!;
    tokens.push(
      await new SignJWT({
        gid: c.grantId.toString(),
        sid: SERVICE_ID.toString(),
        st: 'tcp',
        chain: CHAIN_ID,
        ctr: CONTRACT,
      })
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject(c.address)
        .setAudience(nodePeerB64)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime('1h')
        .setJti(b64(crypto.randomBytes(16)))
        .sign(privateKey),
    );
  }
  const t0 = performance.now();
  for (const tok of tokens)
    await jwtVerify(tok, publicKey, { audience: nodePeerB64, clockTolerance: SKEW_S });
  return rate(n, performance.now() - t0);
}

// Warm up the JIT on every path before measuring.
{
  // Also fills every client's pairwise-key cache, as a running client has after its first ticket.
  const warm = issuePool(Math.max(CLIENTS, 500));
  verifyAll(makeVerifier(0), warm, authenticators(warm));
  issuePool(200, true);
  verifyJwts(Array.from({ length: 500 }, (_, i) => es256kJwt(clients[i % CLIENTS]!)));
}

const issueRates: number[] = [];
const issueColdRates: number[] = [];
const authRates: number[] = [];
const coldRates: number[] = [];
const freshRates: number[] = [];
const warmRates: number[] = [];
const jwtRates: number[] = [];
let sample: Pool[number] | undefined;
let sampleAuth: Uint8Array | undefined;
let sampleJwt = '';
for (let round = 0; round < ROUNDS; round++) {
  let t0 = performance.now();
  const pool = issuePool(POOL);
  issueRates.push(rate(POOL, performance.now() - t0));
  t0 = performance.now();
  issuePool(CLIENTS, true);
  issueColdRates.push(rate(CLIENTS, performance.now() - t0));
  t0 = performance.now();
  const auths = authenticators(pool);
  authRates.push(rate(POOL, performance.now() - t0));
  const tokens = Array.from({ length: POOL }, (_, i) => es256kJwt(clients[i % CLIENTS]!));
  // Interleave ticket and JWT measurements so machine noise hits both alike.
  const verifier = makeVerifier(POOL);
  // The first CLIENTS tickets are one per client: the fresh verifier computes every pairwise key.
  coldRates.push(verifyAll(verifier, pool, auths, 0, CLIENTS));
  freshRates.push(verifyAll(verifier, pool, auths, CLIENTS));
  jwtRates.push(verifyJwts(tokens));
  warmRates.push(verifyAll(verifier, pool, authenticators(pool)));
  sample = pool[0];
  sampleAuth = auths[0];
  sampleJwt = tokens[0]!;
  console.log(
    `round ${round + 1}: verify ${freshRates.at(-1)}/s (new ticket each), ${coldRates.at(-1)}/s (client's first ticket), ` +
      `${warmRates.at(-1)}/s (re-presented), ` +
      `ES256K JWT ${jwtRates.at(-1)}/s, issue ${issueRates.at(-1)}/s, authenticator ${authRates.at(-1)}/s`,
  );
}
const joseEs256 = await joseEs256Rate(Math.min(POOL, 3000));

const verifyPerSec = median(freshRates);
const jwtPerSec = median(jwtRates);
const vsJwt = Math.round((verifyPerSec / jwtPerSec) * 100) / 100;
const figures = {
  verify_per_sec: verifyPerSec,
  verify_cold_per_sec: median(coldRates),
  verify_reuse_per_sec: median(warmRates),
  jwt_es256k_verify_per_sec: jwtPerSec,
  jose_es256_jwtverify_per_sec: joseEs256,
  issue_per_sec: median(issueRates),
  issue_cold_per_sec: median(issueColdRates),
  authenticator_per_sec: median(authRates),
  ticket_bytes: sample!.ticket.length,
  authenticator_bytes: sampleAuth!.length,
  jwt_bytes: sampleJwt.length,
  x25519_backend: crypto.name,
  clients: CLIENTS,
  rounds: ROUNDS,
  tickets_per_round: POOL,
};
console.log(`crypto backend: ${crypto.name}; ${CLIENTS} clients; medians of ${ROUNDS} rounds of ${POOL}`);
console.log(`ticket + authenticator verify, new ticket each time : ${figures.verify_per_sec}/s`);
console.log(`  … a client's first ticket (pairwise X25519 computed): ${figures.verify_cold_per_sec}/s`);
console.log(`ticket + authenticator verify, ticket re-presented  : ${figures.verify_reuse_per_sec}/s`);
console.log(`ES256K JWT verify (node:crypto secp256k1 + jose)   : ${figures.jwt_es256k_verify_per_sec}/s`);
console.log(
  `jose jwtVerify ES256 (reference)                    : ${figures.jose_es256_jwtverify_per_sec}/s`,
);
console.log(`client issue (pairwise key cached)                  : ${figures.issue_per_sec}/s`);
console.log(`client issue (raw key each time: import + X25519)   : ${figures.issue_cold_per_sec}/s`);
console.log(`client authenticator                                : ${figures.authenticator_per_sec}/s`);
console.log(
  `sizes: ticket ${figures.ticket_bytes} B, authenticator ${figures.authenticator_bytes} B, JWT ${figures.jwt_bytes} B`,
);
console.log(
  JSON.stringify({
    bench: 'tickets',
    figures,
    goals: {
      verify_per_sec: { value: verifyPerSec, goal: 20000, met: verifyPerSec >= 20000 },
      vs_jwt: { value: vsJwt, goal: 1.0, met: vsJwt >= 1.0 },
    },
  }),
);
