/** Address pools, CIDRs, the bridge's framing, UAPI answers and nftables rulesets: pure parts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AddressPool,
  clientRuleset,
  defaultPool,
  FrameReader,
  frameDatagram,
  hostRuleset,
  parseCidr4,
  parsePool,
  parseUapiGet,
  tableName,
  type VpnError,
} from '../src/index.ts';

describe('address pool', () => {
  it('gives the gateway .1 and every other host address once, then refuses', () => {
    const pool = new AddressPool('10.60.0.0/29');
    assert.equal(pool.gateway, '10.60.0.1');
    const got = Array.from({ length: 5 }, () => pool.allocate());
    assert.deepEqual(got, ['10.60.0.2', '10.60.0.3', '10.60.0.4', '10.60.0.5', '10.60.0.6']);
    assert.throws(
      () => pool.allocate(),
      (e: VpnError) => e.code === 'POOL_EXHAUSTED',
    );
    pool.release('10.60.0.4');
    assert.equal(pool.allocate(), '10.60.0.4');
  });

  it('defaults per service and refuses pools out of range or with host bits', () => {
    assert.equal(defaultPool(3n), '100.64.3.0/24');
    assert.equal(defaultPool(259n), '100.64.3.0/24');
    assert.throws(
      () => parsePool('10.0.0.0/8'),
      (e: VpnError) => e.code === 'BAD_CONFIG',
    );
    assert.throws(
      () => parsePool('10.0.0.0/31'),
      (e: VpnError) => e.code === 'BAD_CONFIG',
    );
    assert.throws(() => parseCidr4('10.0.0.1/24'), /host bits/);
    assert.throws(() => parseCidr4('10.0.0/24'), /not an IPv4 CIDR/);
  });
});

describe('bridge framing', () => {
  it('reassembles datagrams however the stream splits them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 2000 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 50 }),
        (datagrams, cuts) => {
          const stream = Buffer.concat(datagrams.map((d) => frameDatagram(Buffer.from(d))));
          const reader = new FrameReader();
          const out: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            out.push(...reader.push(stream.subarray(at, at + n)));
            at += n;
          }
          assert.deepEqual(
            out.map((b) => [...b]),
            datagrams.map((d) => [...d]),
          );
        },
      ),
    );
  });

  it('cuts a datagram that lies whole in one chunk out of it without a copy', () => {
    const datagram = Buffer.alloc(40, 7);
    const chunk = Buffer.concat([frameDatagram(datagram), frameDatagram(datagram).subarray(0, 5)]);
    const reader = new FrameReader();
    const [first, ...rest] = reader.push(chunk);
    assert.equal(rest.length, 0);
    assert.equal(first!.buffer, chunk.buffer);
    assert.equal(first!.byteOffset, chunk.byteOffset + 2);
    assert.deepEqual([...first!], [...datagram]);
    // The second one was split across chunks: gathered whole.
    const [second] = reader.push(frameDatagram(datagram).subarray(5));
    assert.deepEqual([...second!], [...datagram]);
  });

  it('refuses a frame shorter than any WireGuard message', () => {
    assert.throws(
      () => new FrameReader().push(Buffer.from([0, 4, 1, 2, 3, 4])),
      (e: VpnError) => e.code === 'MALFORMED',
    );
  });
});

describe('uapi', () => {
  it('parses a get answer with peers', () => {
    const d = parseUapiGet([
      'private_key=aa',
      'listen_port=51820',
      'public_key=bb',
      'endpoint=10.0.0.2:4000',
      'allowed_ip=100.64.1.2/32',
      'rx_bytes=10',
      'tx_bytes=20',
      'last_handshake_time_sec=1700000000',
      'public_key=cc',
      'allowed_ip=100.64.1.3/32',
    ]);
    assert.equal(d.listenPort, 51820);
    assert.equal(d.peers.length, 2);
    assert.deepEqual(d.peers[0], {
      publicKey: 'bb',
      endpoint: '10.0.0.2:4000',
      rxBytes: 10,
      txBytes: 20,
      lastHandshakeSec: 1700000000,
      allowedIps: ['100.64.1.2/32'],
    });
    assert.equal(d.peers[1]!.endpoint, undefined);
  });
});

describe('nftables rulesets', () => {
  it('host: each peer reaches exactly the rules from exactly its address, the rest from the tunnel drops', () => {
    const text = hostRuleset('dvabcdefh2', [
      {
        address: '100.64.2.2',
        allow: [
          { cidr: '10.61.0.10/32' },
          {
            cidr: '10.61.0.0/24',
            ports: [
              [22, 22],
              [80, 443],
            ],
          },
        ],
      },
    ]);
    assert.match(text, /table inet dibs_vpn_dvabcdefh2 \{\}\ndelete table inet dibs_vpn_dvabcdefh2\n/);
    assert.match(text, /iifname "dvabcdefh2" ip saddr 100\.64\.2\.2 ip daddr 10\.61\.0\.10\/32 accept/);
    assert.match(
      text,
      /ip saddr 100\.64\.2\.2 ip daddr 10\.61\.0\.0\/24 meta l4proto \{ tcp, udp \} th dport \{ 22, 80-443 \} accept/,
    );
    assert.match(text, /iifname "dvabcdefh2" drop\n {2}\}/);
    assert.equal(tableName('dv-x'), 'dibs_vpn_dv_x');
  });

  it('client: no forwarding from the tunnel; site adds masquerade', () => {
    assert.doesNotMatch(clientRuleset('dvabcdefc2', false), /masquerade/);
    assert.match(clientRuleset('dvabcdefc2', true), /oifname "dvabcdefc2" masquerade/);
  });
});
