/**
 * `dibs connect`, `dibs proxy` and `dibs status` as a user runs them: node A (`dibs up`, embedded
 * chain) publishes `web`; node B joins with `dibs node start`; connect and proxy go through B's API
 * and Ctrl-C closes what they opened; a third data dir with no node connects with a node of its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { Agent, createServer, get, type Server } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

const run = promisify(execFile);
const PAGE = 'hello from the web service behind DIBS\n';

interface UpJson {
  peerId: string;
  chain: { rpcUrl: string; contracts: Record<string, string> };
}
interface ConnectJson {
  id: string;
  serviceId: string;
  serviceName: string;
  localAddress: string;
  servedBy: string;
}
interface StatusJson {
  peerId: string;
  sessions: Array<{
    serviceId: string;
    serviceName: string;
    peerId: string;
    direction: string;
    path: string;
    openedAt: number;
    bytesIn: number;
    bytesOut: number;
  }>;
  connections: Array<{
    id: string;
    serviceName: string;
    localAddress: string;
    open: number;
    bytesIn: number;
    bytesOut: number;
  }>;
  proxies: Array<{ localAddress: string }>;
}
interface ErrorJson {
  error: { code: string; message: string; hint?: string };
}

const running = (stdout: string) => stdout.includes('"status":"running"');
const printed = (key: string) => (stdout: string) => stdout.includes(`"${key}"`);

/** curl with a bounded run time; returns stdout. */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '30', ...args], { timeout: 40_000 });
  return stdout;
}

/** Whether something accepts TCP connections on `host:port` now. */
function accepts(address: string): Promise<boolean> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const s = tcpConnect(Number(port), host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('dibs connect / proxy / status across two nodes of one network', () => {
  const a = tempHome();
  const b = tempHome();
  const c = tempHome();
  let web: Server;
  let nodeA: Awaited<ReturnType<typeof startCli>>;
  let nodeB: Awaited<ReturnType<typeof startCli>> | undefined;
  let upA: UpJson;
  let joinEnv: Record<string, string>;
  const children: Array<Awaited<ReturnType<typeof startCli>>['child']> = [];

  before(async () => {
    web = createServer((_req, res) => res.end(PAGE));
    // The kept-alive connection below must outlive a status command on a loaded machine (default 5 s).
    web.keepAliveTimeout = 120_000;
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    const webPort = (web.address() as { port: number }).port;
    nodeA = await startCli(['up', '--json'], a.env, running, 180_000);
    upA = lastJson<UpJson>(nodeA.output().stdout);
    const pub = await runCli(
      ['service', 'publish', 'web', '--type', 'http', '--target', `127.0.0.1:${webPort}`, '--json'],
      a.env,
    );
    assert.equal(pub.code, 0, pub.stderr + pub.stdout);
    joinEnv = { DIBS_CONTRACTS: JSON.stringify(upA.chain.contracts) };
    nodeB = await startCli(
      ['node', 'start', '--rpc-url', upA.chain.rpcUrl, '--json'],
      { ...b.env, ...joinEnv },
      running,
      180_000,
    );
  });
  after(async () => {
    for (const child of children) await stopChild(child);
    if (nodeB) await stopChild(nodeB.child);
    await stopChild(nodeA.child);
    web.close();
    for (const h of [a, b, c]) h.cleanup();
  });

  test('connect by name goes through the running node; status shows the session; Ctrl-C closes it', async () => {
    const conn = await startCli(
      ['connect', 'web', '--listen', '127.0.0.1:0', '--json'],
      b.env,
      printed('localAddress'),
    );
    children.push(conn.child);
    const out = lastJson<ConnectJson>(conn.output().stdout);
    assert.equal(out.servedBy, 'node');
    assert.equal(out.serviceName, 'web');
    assert.match(out.localAddress, /^127\.0\.0\.1:\d+$/);
    assert.equal(await curl([`http://${out.localAddress}/`]), PAGE);

    // A kept-alive HTTP connection holds its tunnel open while status looks at it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const [host, port] = out.localAddress.split(':') as [string, string];
      const body = await new Promise<string>((resolve, reject) => {
        get({ host, port: Number(port), path: '/', agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      assert.equal(body, PAGE);
      const st = await runCli(['status', '--json'], b.env);
      assert.equal(st.code, 0, st.stderr + st.stdout);
      const status = lastJson<StatusJson>(st.stdout);
      const s = status.sessions.find((x) => x.direction === 'outbound' && x.serviceId === out.serviceId);
      assert.ok(s, `an outbound session to web: ${JSON.stringify(status.sessions)}`);
      assert.equal(s.serviceName, 'web');
      assert.equal(s.peerId, upA.peerId, 'the peer is the node hosting web');
      assert.equal(s.path, 'direct', 'both nodes listen on loopback');
      assert.ok(s.openedAt > 0 && s.openedAt <= Date.now(), `start time ${s.openedAt}`);
      assert.ok(s.bytesOut > 0, 'request bytes went out');
      assert.ok(s.bytesIn >= PAGE.length, 'the page came in');
    } finally {
      agent.destroy();
    }

    assert.equal(await stopChild(conn.child), 0, conn.output().stderr);
    assert.equal(await accepts(out.localAddress), false, 'the node closed the listener on Ctrl-C');

    const kept = await runCli(['connect', `${out.serviceId}`, '--detach', '--json'], b.env);
    assert.equal(kept.code, 0, kept.stderr + kept.stdout);
    const k = lastJson<ConnectJson>(kept.stdout);
    assert.equal(k.serviceName, 'web', 'an id resolves to the same service');
    assert.equal(
      await curl([`http://${k.localAddress}/`]),
      PAGE,
      'the node holds it after the command exits',
    );
  });

  test("the connect listener's line and status --json count its connections and bytes after they closed", async () => {
    const conn = await startCli(['connect', 'web'], b.env, (stdout) =>
      /listening:\s+127\.0\.0\.1:\d+/.test(stdout),
    );
    children.push(conn.child);
    const localAddress = /listening:\s+(127\.0\.0\.1:\d+)/.exec(conn.output().stdout)![1]!;
    assert.equal(await curl([`http://${localAddress}/`]), PAGE);
    assert.equal(await curl([`http://${localAddress}/again`]), PAGE);
    // Both curls are done: no session is open, the listener still counts what passed.
    const line = /^(\d+) open · (\d+) B out · (\d+) B in$/m;
    const deadline = Date.now() + 60_000;
    let m: RegExpExecArray | null = null;
    while (Date.now() < deadline) {
      m = [...conn.output().stderr.matchAll(new RegExp(line, 'gm'))].at(-1) ?? null;
      if (m && Number(m[2]) > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(m, `a progress line: ${conn.output().stderr}`);
    assert.ok(Number(m[2]) > 0, `bytes out counted: ${m[0]}`);
    assert.ok(Number(m[3]) >= 2 * PAGE.length, `bytes in counted: ${m[0]}`);

    const st = await runCli(['status', '--json'], b.env);
    assert.equal(st.code, 0, st.stderr + st.stdout);
    const listener = lastJson<StatusJson>(st.stdout).connections.find((c) => c.localAddress === localAddress);
    assert.ok(listener, `status lists the connect listener: ${st.stdout}`);
    assert.equal(listener.serviceName, 'web');
    assert.ok(listener.bytesIn >= 2 * PAGE.length && listener.bytesOut > 0, JSON.stringify(listener));
    const text = await runCli(['status'], b.env);
    assert.match(text.stdout, new RegExp(`connect ${localAddress.replace(/\./g, '\\.')}.*web.*B in`));
    assert.equal(await stopChild(conn.child), 0, conn.output().stderr);
  });

  test('proxy through the running node: curl --socks5-hostname reaches web.dibs', async () => {
    const proxy = await startCli(
      ['proxy', '--socks', '127.0.0.1:0', '--json'],
      b.env,
      printed('localAddress'),
    );
    children.push(proxy.child);
    const out = lastJson<{ localAddress: string; servedBy: string; via: unknown }>(proxy.output().stdout);
    assert.equal(out.servedBy, 'node');
    assert.equal(out.via, null);
    assert.equal(await curl(['--socks5-hostname', out.localAddress, 'http://web.dibs/']), PAGE);
    const st = lastJson<StatusJson>((await runCli(['status', '--json'], b.env)).stdout);
    assert.ok(
      st.proxies.some((p) => p.localAddress === out.localAddress),
      JSON.stringify(st.proxies),
    );
    assert.equal(await stopChild(proxy.child), 0, proxy.output().stderr);
    assert.equal(await accepts(out.localAddress), false, 'the node closed the proxy on Ctrl-C');
  });

  test('a data dir with no running node: connect says so; with --start-node it runs a node of its own, joined over --rpc-url', async () => {
    // No node, no passphrase at hand: a clear answer instead of a prompt and a node started here.
    const none = await runCli(['connect', 'web'], { DIBS_HOME: c.home });
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /error: no DIBS node is running for /);
    assert.match(none.stderr, /hint: start it with `(npm run dibs --|dibs) up`.*--start-node/);
    assert.doesNotMatch(none.stderr, /[Pp]assphrase/);
    const conn = await startCli(
      ['connect', 'web', '--listen', '127.0.0.1:0', '--start-node', '--rpc-url', upA.chain.rpcUrl, '--json'],
      { ...c.env, ...joinEnv },
      printed('localAddress'),
      180_000,
    );
    children.push(conn.child);
    const out = lastJson<ConnectJson>(conn.output().stdout);
    assert.equal(out.servedBy, 'process');
    assert.equal(out.serviceName, 'web');
    assert.equal(await curl([`http://${out.localAddress}/`]), PAGE);
    assert.equal(await stopChild(conn.child), 0, conn.output().stderr);
    assert.equal(await accepts(out.localAddress), false);
  });

  test('mistakes exit non-zero and say what to do, as text and as --json', async () => {
    const unknown = await runCli(['connect', 'no-such-service', '--json'], b.env);
    assert.notEqual(unknown.code, 0);
    const e = lastJson<ErrorJson>(unknown.stdout).error;
    assert.equal(e.code, 'UNKNOWN_SERVICE');
    assert.match(e.message, /no-such-service/);
    assert.match(e.hint ?? '', /`(npm run dibs --|dibs) service list`/);

    const text = await runCli(['connect', 'no-such-service'], b.env);
    assert.notEqual(text.code, 0);
    assert.match(text.stderr, /error: .*no-such-service/);
    assert.match(text.stderr, /hint: .*(npm run dibs --|dibs) service list/);

    const via = await runCli(['proxy', '--socks', '127.0.0.1:0', '--via', 'nope', '--json'], b.env);
    assert.notEqual(via.code, 0);
    assert.equal(lastJson<ErrorJson>(via.stdout).error.code, 'UNKNOWN_SERVICE');

    const badListen = await runCli(['connect', 'web', '--listen', 'here', '--json'], b.env);
    assert.notEqual(badListen.code, 0);
    assert.equal(lastJson<ErrorJson>(badListen.stdout).error.code, 'BAD_LISTEN');

    const lonely = tempHome();
    try {
      const noContracts = await runCli(
        ['connect', 'web', '--start-node', '--rpc-url', upA.chain.rpcUrl, '--json'],
        lonely.env,
      );
      assert.notEqual(noContracts.code, 0);
      const e2 = lastJson<ErrorJson>(noContracts.stdout).error;
      assert.equal(e2.code, 'NO_CONTRACTS');
      assert.match(e2.hint ?? '', /DIBS_CONTRACTS/);
    } finally {
      lonely.cleanup();
    }
  });
});
