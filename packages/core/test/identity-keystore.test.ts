import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Wallet as EthereumJsWallet } from '@ethereumjs/wallet';
import { encryptKeystoreJson, Wallet as EthersWallet } from 'ethers';
import {
  decryptKeystore,
  encryptKeystore,
  KEYSTORE_DEFAULT_SCRYPT_N,
  KeystoreError,
  type KeystoreV3,
  keystoreAddress,
  nobleScrypt,
  parseKeystore,
  Wallet,
} from '../src/index.ts';
import {
  changeKeystorePassphrase,
  nodeScrypt,
  readKeystoreFile,
  readKeystoreFileAddress,
  writeKeystoreFile,
} from '../src/node.ts';

// Throwaway key and passphrase of the committed fixture (written by ethers 6 `Wallet.encrypt`, default scrypt N).
const FIXTURE = new URL('./fixtures/identity/ethers-keystore.json', import.meta.url).pathname;
const FIXTURE_PASSPHRASE = 'dibs-fixture-passphrase';
const FIXTURE_KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
const FIXTURE_ADDRESS = '0x2c7536E3605D9C16a7a3D7b1898e529396a65c23';

const LOW_N = 1024;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isKeystoreError = (code: string, mentions?: string) => (err: unknown) =>
  err instanceof KeystoreError &&
  err.code === code &&
  (mentions === undefined || err.message.includes(mentions));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dibs-keystore-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fingerprint(path: string) {
  const info = await stat(path);
  return {
    sha: createHash('sha256')
      .update(await readFile(path))
      .digest('hex'),
    mtime: info.mtimeMs,
    mode: info.mode,
  };
}

describe('keystore interoperability', () => {
  test('ours decrypts with ethers and with @ethereumjs/wallet (strict and non-strict)', async () => {
    for (const scrypt of [nobleScrypt, nodeScrypt]) {
      const w = Wallet.generate();
      const ks = await encryptKeystore(w, 'correct horse', { scryptN: LOW_N, scrypt });
      const viaEthers = await EthersWallet.fromEncryptedJson(JSON.stringify(ks), 'correct horse');
      assert.equal(viaEthers.address, w.address);
      assert.equal(viaEthers.privateKey, w.exportPrivateKeyHex());
      const viaEthereumJs = await EthereumJsWallet.fromV3(ks as never, 'correct horse', true);
      assert.equal(hex(viaEthereumJs.getPrivateKey()), hex(w.exportPrivateKey()));
      const strict = await EthereumJsWallet.fromV3(JSON.stringify(ks), 'correct horse', false);
      assert.equal(strict.getAddressString(), w.address.toLowerCase());
    }
  });

  test('a keystore written by ethers decrypts with ours (noble and node:crypto scrypt)', async () => {
    const ethersWallet = EthersWallet.createRandom();
    const json = await encryptKeystoreJson(
      { address: ethersWallet.address, privateKey: ethersWallet.privateKey },
      'ethers pass',
      { scrypt: { N: LOW_N } },
    );
    for (const scrypt of [nobleScrypt, nodeScrypt]) {
      const w = await decryptKeystore(json, 'ethers pass', { scrypt });
      assert.equal(w.address, ethersWallet.address);
      assert.equal(w.exportPrivateKeyHex(), ethersWallet.privateKey);
    }
    assert.equal(keystoreAddress(json), ethersWallet.address);
  });

  test('the committed ethers fixture decrypts from disk', async () => {
    assert.equal(await readKeystoreFileAddress(FIXTURE), FIXTURE_ADDRESS);
    const before = await fingerprint(FIXTURE);
    const w = await readKeystoreFile(FIXTURE, FIXTURE_PASSPHRASE);
    assert.equal(w.address, FIXTURE_ADDRESS);
    assert.equal(w.exportPrivateKeyHex(), FIXTURE_KEY);
    assert.equal(JSON.parse(await readFile(FIXTURE, 'utf8')).Crypto.kdfparams.n, KEYSTORE_DEFAULT_SCRYPT_N);
    assert.deepEqual(await fingerprint(FIXTURE), before);
  });

  test('default parameters are scrypt N=131072 r=8 p=1, and ethers reads them', async () => {
    const w = Wallet.generate();
    const path = join(dir, 'default.json');
    const ks = await writeKeystoreFile(path, w, 'default params');
    assert.deepEqual(
      {
        n: ks.crypto.kdfparams.n,
        r: ks.crypto.kdfparams.r,
        p: ks.crypto.kdfparams.p,
        dklen: ks.crypto.kdfparams.dklen,
      },
      { n: 131072, r: 8, p: 1, dklen: 32 },
    );
    assert.equal(ks.crypto.cipher, 'aes-128-ctr');
    assert.equal(ks.version, 3);
    assert.match(ks.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const viaEthers = await EthersWallet.fromEncryptedJson(await readFile(path, 'utf8'), 'default params');
    assert.equal(viaEthers.address, w.address);
  });

  test('keystores written by @ethereumjs/wallet (scrypt and pbkdf2) decrypt with ours', async () => {
    const w = Wallet.generate();
    const ejs = EthereumJsWallet.fromPrivateKey(w.exportPrivateKey());
    const scryptKs = await ejs.toV3('ejs pass', { kdf: 'scrypt', n: LOW_N });
    const pbkdf2Ks = await ejs.toV3('ejs pass', { kdf: 'pbkdf2', c: 4096 });
    assert.equal(pbkdf2Ks.crypto.kdf, 'pbkdf2');
    assert.equal((await decryptKeystore(scryptKs, 'ejs pass')).address, w.address);
    assert.equal((await decryptKeystore(JSON.stringify(pbkdf2Ks), 'ejs pass')).address, w.address);
    await assert.rejects(decryptKeystore(pbkdf2Ks, 'nope'), isKeystoreError('WRONG_PASSPHRASE'));
    const path = join(dir, 'ejs-pbkdf2.json');
    await writeFile(path, JSON.stringify(pbkdf2Ks));
    assert.equal((await readKeystoreFile(path, 'ejs pass')).address, w.address);
  });

  test('non-normalised Unicode passphrases: ours opens ethers files (NFKC) and ethereumjs opens ours (raw)', async () => {
    const nfd = 'pa\u0308ssw\u006f\u0308rd'; // "pässwörd" with combining marks, not NFKC
    assert.notEqual(nfd, nfd.normalize('NFKC'));
    const w = Wallet.generate();
    const ours = await encryptKeystore(w, nfd, { scryptN: LOW_N });
    assert.equal(
      hex((await EthereumJsWallet.fromV3(ours as never, nfd, true)).getPrivateKey()),
      hex(w.exportPrivateKey()),
    );
    assert.equal((await decryptKeystore(ours, nfd)).address, w.address);
    const ethersJson = await encryptKeystoreJson(
      { address: w.address, privateKey: w.exportPrivateKeyHex() },
      nfd,
      { scrypt: { N: LOW_N } },
    );
    assert.equal((await decryptKeystore(ethersJson, nfd)).address, w.address);
    assert.equal((await decryptKeystore(ethersJson, nfd.normalize('NFKC'))).address, w.address);
  });

  test('noble and node:crypto scrypt agree', async () => {
    for (const [N, r, p] of [
      [16, 1, 1],
      [1024, 8, 1],
      [256, 4, 3],
    ] as const) {
      const password = new Uint8Array(randomBytes(12));
      const salt = new Uint8Array(randomBytes(32));
      assert.deepEqual(
        await nobleScrypt(password, salt, { N, r, p, dkLen: 32 }),
        await nodeScrypt(password, salt, { N, r, p, dkLen: 32 }),
      );
    }
  });
});

describe('keystore errors', () => {
  test('wrong passphrase: WRONG_PASSPHRASE naming the file, file untouched', async () => {
    const path = join(dir, 'wrong-pass.json');
    await writeKeystoreFile(path, Wallet.generate(), 'right', { scryptN: LOW_N });
    const before = await fingerprint(path);
    await assert.rejects(readKeystoreFile(path, 'wrong'), (err: unknown) => {
      assert.ok(err instanceof KeystoreError);
      assert.equal(err.code, 'WRONG_PASSPHRASE');
      assert.ok(err.message.startsWith(`wrong passphrase for keystore ${path}`), err.message);
      assert.equal(err.source, path);
      return true;
    });
    assert.deepEqual(await fingerprint(path), before);
    await assert.rejects(
      readKeystoreFile(FIXTURE, 'not the fixture passphrase'),
      isKeystoreError('WRONG_PASSPHRASE', FIXTURE),
    );
  });

  test('corrupt, missing and unreadable files name the file', async () => {
    const cases: [string, string | Buffer][] = [
      ['not-json.json', '{"version": 3, "crypto": '],
      ['array.json', '[1,2,3]'],
      ['empty.json', ''],
      ['binary.json', Buffer.from([0xff, 0xfe, 0x00, 0x81])],
      ['huge.json', `{"pad":"${'a'.repeat(70 * 1024)}"}`],
    ];
    for (const [name, content] of cases) {
      const path = join(dir, name);
      await writeFile(path, content);
      await assert.rejects(readKeystoreFile(path, 'x'), isKeystoreError('CORRUPT_KEYSTORE', path), name);
      await assert.rejects(readKeystoreFileAddress(path), isKeystoreError('CORRUPT_KEYSTORE', path), name);
    }
    const missing = join(dir, 'missing.json');
    await assert.rejects(readKeystoreFile(missing, 'x'), isKeystoreError('KEYSTORE_NOT_FOUND', missing));
    const folder = join(dir, 'a-directory');
    await mkdir(folder);
    await assert.rejects(readKeystoreFile(folder, 'x'), isKeystoreError('KEYSTORE_UNREADABLE', folder));
  });

  test('unsupported versions, ciphers, KDFs and oversized parameters are refused before any work', async () => {
    const base = await encryptKeystore(Wallet.generate(), 'p', { scryptN: LOW_N });
    // Each edit is [path, value]; undefined deletes the field.
    type Edit = [string[], unknown];
    const variant = (...edits: Edit[]) => {
      const copy = structuredClone(base) as unknown as Record<string, unknown>;
      for (const [path, value] of edits) {
        let holder = copy;
        for (const key of path.slice(0, -1)) holder = holder[key] as Record<string, unknown>;
        if (value === undefined) delete holder[path.at(-1)!];
        else holder[path.at(-1)!] = value;
      }
      return copy;
    };
    const kdf = ['crypto', 'kdfparams'];
    const salt = base.crypto.kdfparams.salt;
    const unsupported = [
      variant([['version'], 1]),
      variant([['crypto', 'cipher'], 'aes-128-cbc']),
      variant([['crypto', 'kdf'], 'argon2']),
      variant([[...kdf, 'n'], 2 ** 22]),
      variant([[...kdf, 'r'], 64]),
      variant([[...kdf, 'p'], 1000]),
      variant([[...kdf, 'dklen'], 64]),
      variant([[...kdf, 'n'], 2 ** 20], [[...kdf, 'r'], 16]),
      variant([['crypto', 'kdf'], 'pbkdf2'], [kdf, { c: 1e9, dklen: 32, prf: 'hmac-sha256', salt }]),
      variant([['crypto', 'kdf'], 'pbkdf2'], [kdf, { c: 10, dklen: 32, prf: 'hmac-sha512', salt }]),
    ];
    for (const ks of unsupported) {
      await assert.rejects(decryptKeystore(ks, 'p'), isKeystoreError('UNSUPPORTED_KEYSTORE'));
    }
    const corrupt = [
      variant([[...kdf, 'n'], 1000]),
      variant([['crypto', 'ciphertext'], base.crypto.ciphertext.slice(2)]),
      variant([['crypto', 'cipherparams', 'iv'], 'zz']),
      variant([['crypto', 'mac'], 42]),
      variant([['crypto'], undefined]),
      variant([['address'], 'nope']),
    ];
    for (const ks of corrupt) {
      await assert.rejects(decryptKeystore(ks, 'p'), isKeystoreError('CORRUPT_KEYSTORE'));
    }
  });

  test('an address field that does not match the key is CORRUPT_KEYSTORE', async () => {
    const ks = await encryptKeystore(Wallet.generate(), 'p', { scryptN: LOW_N });
    ks.address = Wallet.generate().address.slice(2).toLowerCase();
    await assert.rejects(decryptKeystore(ks, 'p'), isKeystoreError('CORRUPT_KEYSTORE', 'address'));
  });

  test('bad encrypt options are INVALID_OPTIONS', async () => {
    const w = Wallet.generate();
    for (const options of [
      { scryptN: 1000 },
      { scryptN: 1 },
      { scryptN: 2 ** 21 },
      { scryptR: 0 },
      { scryptP: 99 },
    ]) {
      await assert.rejects(encryptKeystore(w, 'p', options), isKeystoreError('INVALID_OPTIONS'));
    }
  });
});

describe('keystore files', () => {
  test('writes are 0600, leave no temp files and refuse to replace an existing key', async () => {
    const sub = join(dir, 'nested', 'keys');
    const path = join(sub, 'node.json');
    const w = Wallet.generate();
    await writeKeystoreFile(path, w, 'p', { scryptN: LOW_N });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(sub), ['node.json']);
    const before = await fingerprint(path);
    await assert.rejects(
      writeKeystoreFile(path, Wallet.generate(), 'p', { scryptN: LOW_N }),
      isKeystoreError('KEYSTORE_EXISTS', path),
    );
    assert.deepEqual(await fingerprint(path), before);
    assert.deepEqual(await readdir(sub), ['node.json']);
    assert.equal((await readKeystoreFile(path, 'p')).address, w.address);

    const replacement = Wallet.generate();
    await writeKeystoreFile(path, replacement, 'q', { scryptN: LOW_N, overwrite: true });
    assert.equal((await readKeystoreFile(path, 'q')).address, replacement.address);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(sub), ['node.json']);
  });

  test('a write into an impossible place fails with KEYSTORE_WRITE_FAILED naming the file', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file, not a directory');
    const target = join(blocker, 'k.json');
    await assert.rejects(
      writeKeystoreFile(target, Wallet.generate(), 'p', { scryptN: LOW_N }),
      isKeystoreError('KEYSTORE_WRITE_FAILED', target),
    );
  });

  test('changeKeystorePassphrase re-encrypts in place; a wrong old passphrase changes nothing', async () => {
    const path = join(dir, 'rotate.json');
    const w = Wallet.generate();
    await writeKeystoreFile(path, w, 'old', { scryptN: LOW_N });
    const before = await fingerprint(path);
    await assert.rejects(
      changeKeystorePassphrase(path, 'wrong', 'new', { scryptN: LOW_N }),
      isKeystoreError('WRONG_PASSPHRASE'),
    );
    assert.deepEqual(await fingerprint(path), before);
    await changeKeystorePassphrase(path, 'old', 'new', { scryptN: LOW_N });
    assert.equal((await readKeystoreFile(path, 'new')).address, w.address);
    await assert.rejects(readKeystoreFile(path, 'old'), isKeystoreError('WRONG_PASSPHRASE'));
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });
});

describe('keystore property tests', () => {
  test('random passphrases and keys round-trip', async () => {
    for (let i = 0; i < 15; i++) {
      const w = Wallet.generate();
      const passphrase = randomBytes(1 + (i % 20)).toString(i % 2 ? 'base64' : 'latin1');
      const ks = await encryptKeystore(w, passphrase, { scryptN: 16, scrypt: nodeScrypt });
      const back = await decryptKeystore(JSON.parse(JSON.stringify(ks)), passphrase, { scrypt: nodeScrypt });
      assert.equal(back.exportPrivateKeyHex(), w.exportPrivateKeyHex());
    }
  });

  test('random and mutated keystore JSON never throws anything but KeystoreError', async () => {
    const base: KeystoreV3 = await encryptKeystore(Wallet.generate(), 'p', {
      scryptN: 16,
      scrypt: nodeScrypt,
    });
    const text = JSON.stringify(base);
    const rand = (n: number) => randomBytes(4).readUInt32BE() % n;
    const junkValues: unknown[] = [
      null,
      true,
      0,
      -1,
      1.5,
      2 ** 53,
      1e308,
      '',
      'zz',
      '0x',
      'ff'.repeat(16),
      'ff'.repeat(32),
      '\u0000',
      [],
      {},
      [1, 2],
      { n: 16 },
      16,
      32,
      8,
    ];
    const paths: string[][] = [];
    const walk = (value: unknown, path: string[]) => {
      paths.push(path);
      if (value && typeof value === 'object')
        for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    };
    walk(base, []);
    const mutate = (): unknown => {
      const copy = JSON.parse(text) as Record<string, unknown>;
      const path = paths[rand(paths.length)]!;
      if (path.length === 0) return junkValues[rand(junkValues.length)];
      let holder = copy as Record<string, unknown>;
      for (const key of path.slice(0, -1)) holder = holder[key] as Record<string, unknown>;
      const last = path[path.length - 1]!;
      const choice = rand(4);
      if (choice === 0) delete holder[last];
      else if (choice === 1) holder[last] = junkValues[rand(junkValues.length)];
      else if (choice === 2 && typeof holder[last] === 'string') {
        const s = holder[last] as string;
        const at = rand(Math.max(1, s.length));
        holder[last] = s.slice(0, at) + '0123456789abcdefXZ'[rand(18)] + s.slice(at + 1);
      } else holder[`${last}${rand(3) === 0 ? '' : 'X'}`.toUpperCase()] = holder[last];
      return copy;
    };
    const check = async (input: unknown) => {
      try {
        await decryptKeystore(input, 'p', { scrypt: nodeScrypt });
      } catch (err) {
        assert.ok(err instanceof KeystoreError, `non-KeystoreError: ${String(err)}`);
      }
      try {
        parseKeystore(input);
      } catch (err) {
        assert.ok(err instanceof KeystoreError, `non-KeystoreError from parseKeystore: ${String(err)}`);
      }
    };
    for (let i = 0; i < 400; i++) await check(mutate());
    for (let i = 0; i < 300; i++) {
      const at = rand(text.length);
      const mutated = text.slice(0, at) + String.fromCharCode(rand(128)) + text.slice(at + 1 + rand(2));
      await check(mutated);
    }
    for (let i = 0; i < 200; i++) await check(randomBytes(rand(200)).toString(i % 2 ? 'latin1' : 'utf8'));
    for (const junk of junkValues) await check(junk);
    await check(undefined);
    await check(Symbol('x'));
  });
});
