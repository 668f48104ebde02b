/**
 * `dibs login` beside a running node: the provider as part of `dibs up --login`, publish a login
 * service, register a client (secret shown once, never listed), run the provider on its own listener
 * and read its discovery document, remove the client; bad input answered with a clear error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

const running = (stdout: string) => stdout.includes('"status":"running"');

describe('dibs login: publish, clients, serve', () => {
  const home = tempHome();
  let node: Awaited<ReturnType<typeof startCli>>;

  before(async () => {
    node = await startCli(['up', '--json', '--login', '127.0.0.1:0'], home.env, running, 180_000);
  });
  after(async () => {
    await stopChild(node.child);
    home.cleanup();
  });

  test('dibs up --login runs the provider in the node: its discovery document answers', async () => {
    const { login } = lastJson<{ login: { issuer: string; discovery: string } }>(node.output().stdout);
    assert.match(login.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const meta = (await (await fetch(login.discovery)).json()) as { issuer: string; jwks_uri: string };
    assert.equal(meta.issuer, login.issuer);
    const jwks = (await (await fetch(meta.jwks_uri)).json()) as { keys: Array<{ alg: string }> };
    assert.deepEqual(
      jwks.keys.map((k) => k.alg),
      ['RS256'],
    );
  });

  test('publish → client add → list → serve → remove', async () => {
    const pub = await runCli(['login', 'publish', 'example-app', '--json'], home.env);
    assert.equal(pub.code, 0, pub.stderr + pub.stdout);
    const { serviceId } = lastJson<{ serviceId: string }>(pub.stdout);
    assert.match(serviceId, /^\d+$/);

    const add = await runCli(
      ['login', 'client', 'add', serviceId, '--redirect-uri', 'http://127.0.0.1:3000/callback', '--json'],
      home.env,
    );
    assert.equal(add.code, 0, add.stderr + add.stdout);
    const client = lastJson<{ clientId: string; clientSecret: string; redirectUris: string[] }>(add.stdout);
    assert.match(client.clientId, /^dibs_/);
    assert.ok(client.clientSecret.length >= 40);

    const list = await runCli(['login', 'client', 'list', '--json'], home.env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(!list.stdout.includes(client.clientSecret), 'the secret is shown once, never listed');
    const listed = lastJson<{ clients: Array<{ clientId: string; serviceId: string }> }>(list.stdout).clients;
    assert.deepEqual(
      listed.map((c) => [c.clientId, c.serviceId]),
      [[client.clientId, serviceId]],
    );

    const serve = await startCli(['login', 'serve', '--listen', '127.0.0.1:0', '--json'], home.env, (out) =>
      out.includes('"issuer"'),
    );
    try {
      const { issuer } = lastJson<{ issuer: string }>(serve.output().stdout);
      const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
        issuer: string;
        scopes_supported: string[];
      };
      assert.equal(meta.issuer, issuer);
      assert.ok(meta.scopes_supported.includes('groups'));
    } finally {
      assert.equal(await stopChild(serve.child), 0);
    }

    const remove = await runCli(['login', 'client', 'remove', client.clientId, '--json'], home.env);
    assert.equal(remove.code, 0, remove.stderr);
    const empty = await runCli(['login', 'client', 'list', '--json'], home.env);
    assert.deepEqual(lastJson<{ clients: unknown[] }>(empty.stdout).clients, []);
  });

  test('bad input: not a login service, bad redirect URI, unknown client, conflicting policies', async () => {
    const svc = await runCli(
      ['service', 'publish', 'web', '--type', 'tcp', '--target', '127.0.0.1:9', '--json'],
      home.env,
    );
    assert.equal(svc.code, 0, svc.stderr + svc.stdout);
    const tcpId = lastJson<{ id: string }>(svc.stdout).id;
    const notLogin = await runCli(
      ['login', 'client', 'add', tcpId, '--redirect-uri', 'https://a.example/cb', '--json'],
      home.env,
    );
    assert.equal(notLogin.code, 1);
    assert.equal(lastJson<{ error: { code: string } }>(notLogin.stdout).error.code, 'NOT_A_LOGIN_SERVICE');

    const pub = await runCli(['login', 'publish', 'second', '--json'], home.env);
    const { serviceId } = lastJson<{ serviceId: string }>(pub.stdout);
    const badUri = await runCli(
      ['login', 'client', 'add', serviceId, '--redirect-uri', 'http://evil.example/cb', '--json'],
      home.env,
    );
    assert.equal(badUri.code, 1);
    assert.equal(lastJson<{ error: { code: string } }>(badUri.stdout).error.code, 'BAD_REDIRECT_URI');

    const unknown = await runCli(['login', 'client', 'remove', 'dibs_nope', '--json'], home.env);
    assert.equal(lastJson<{ error: { code: string } }>(unknown.stdout).error.code, 'UNKNOWN_CLIENT');

    const both = await runCli(['login', 'publish', 'x', '--public', '--org', '1', '--json'], home.env);
    assert.equal(lastJson<{ error: { code: string } }>(both.stdout).error.code, 'BAD_ARGUMENT');

    const help = await runCli(['login', 'client', 'add', '--help'], home.env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--redirect-uri/);
  });
});
