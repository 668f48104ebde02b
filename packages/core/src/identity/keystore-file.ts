/**
 * Keystore files (Node only): atomic 0600 writes and reads that name the file in every error.
 * Uses node:crypto scrypt/PBKDF2, several times faster than the pure-JS fallback.
 */
import { pbkdf2 as nodePbkdf2Cb, randomBytes, scrypt as nodeScryptCb } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KEYSTORE_DIR_MODE, KEYSTORE_FILE_MODE, KEYSTORE_MAX_BYTES } from './constants.ts';
import { KeystoreError } from './errors.ts';
import {
  type DecryptKeystoreOptions,
  decryptKeystore,
  type EncryptKeystoreOptions,
  encryptKeystore,
  type KeystoreV3,
  keystoreAddress,
  type Pbkdf2Function,
  type ScryptFunction,
  scryptMaxmem,
} from './keystore.ts';
import type { Address, Wallet } from './wallet.ts';

/** scrypt from node:crypto (OpenSSL), with maxmem raised to the keystore decoder's bound. */
export const nodeScrypt: ScryptFunction = (password, salt, { N, r, p, dkLen }) =>
  new Promise((resolve, reject) => {
    nodeScryptCb(password, salt, dkLen, { N, r, p, maxmem: scryptMaxmem(r, p) }, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength)),
    );
  });

/** PBKDF2-HMAC-SHA256 from node:crypto. */
export const nodePbkdf2: Pbkdf2Function = (password, salt, iterations, dkLen) =>
  new Promise((resolve, reject) => {
    nodePbkdf2Cb(password, salt, iterations, dkLen, 'sha256', (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength)),
    );
  });

/** Options of {@link writeKeystoreFile}. */
export interface WriteKeystoreFileOptions extends EncryptKeystoreOptions {
  /** Replace an existing file at `path` (default false: refuse, so a key is never lost by accident). */
  overwrite?: boolean;
}

async function readText(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new KeystoreError('KEYSTORE_UNREADABLE', `keystore ${path} is not a regular file`, path);
    }
    if (info.size > KEYSTORE_MAX_BYTES) {
      throw new KeystoreError(
        'CORRUPT_KEYSTORE',
        `keystore ${path} is corrupt: larger than ${KEYSTORE_MAX_BYTES} bytes; restore it from a backup`,
        path,
      );
    }
    const bytes = await readFile(path);
    if (bytes.length > KEYSTORE_MAX_BYTES) {
      throw new KeystoreError(
        'CORRUPT_KEYSTORE',
        `keystore ${path} is corrupt: it grew while being read`,
        path,
      );
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new KeystoreError(
        'CORRUPT_KEYSTORE',
        `keystore ${path} is corrupt: not UTF-8 text; restore it from a backup`,
        path,
      );
    }
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new KeystoreError('KEYSTORE_NOT_FOUND', `keystore ${path} does not exist; check the path`, path, {
        cause: err,
      });
    }
    throw new KeystoreError(
      'KEYSTORE_UNREADABLE',
      `keystore ${path} cannot be read (${code ?? (err as Error).message}); check its permissions`,
      path,
      { cause: err },
    );
  }
}

/** Reads and decrypts a keystore file. The file is only read, never modified. */
export async function readKeystoreFile(
  path: string,
  passphrase: string,
  options: Omit<DecryptKeystoreOptions, 'source'> = {},
): Promise<Wallet> {
  const text = await readText(path);
  return decryptKeystore(text, passphrase, {
    scrypt: nodeScrypt,
    pbkdf2: nodePbkdf2,
    ...options,
    source: path,
  });
}

/** The address a keystore file holds, read without the passphrase (null when the file states none). */
export async function readKeystoreFileAddress(path: string): Promise<Address | null> {
  return keystoreAddress(await readText(path), path);
}

/**
 * Encrypts `wallet` and writes it to `path` atomically: a 0600 temp file in the same directory is
 * written and fsynced, then renamed (or hard-linked, which refuses an existing file) into place, so
 * a crash leaves either no file or a whole one. Returns the keystore written.
 */
export async function writeKeystoreFile(
  path: string,
  wallet: Wallet,
  passphrase: string,
  options: WriteKeystoreFileOptions = {},
): Promise<KeystoreV3> {
  const { overwrite = false, ...encryptOptions } = options;
  const keystore = await encryptKeystore(wallet, passphrase, { scrypt: nodeScrypt, ...encryptOptions });
  await writeFileAtomic(path, `${JSON.stringify(keystore, null, 2)}\n`, overwrite);
  return keystore;
}

/**
 * Re-encrypts a keystore file under a new passphrase, atomically replacing it. A wrong old passphrase
 * leaves the file untouched.
 */
export async function changeKeystorePassphrase(
  path: string,
  oldPassphrase: string,
  newPassphrase: string,
  options: EncryptKeystoreOptions = {},
): Promise<KeystoreV3> {
  const wallet = await readKeystoreFile(path, oldPassphrase);
  return writeKeystoreFile(path, wallet, newPassphrase, { ...options, overwrite: true });
}

async function writeFileAtomic(path: string, text: string, overwrite: boolean): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fail = (what: string, err: unknown) =>
    new KeystoreError(
      'KEYSTORE_WRITE_FAILED',
      `cannot write keystore ${path}: ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the directory exists and is writable`,
      path,
      { cause: err },
    );
  try {
    await mkdir(dir, { recursive: true, mode: KEYSTORE_DIR_MODE });
  } catch (err) {
    throw fail('cannot create its directory', err);
  }
  let placed = false;
  try {
    const handle = await open(temp, 'wx', KEYSTORE_FILE_MODE);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // open()'s mode is filtered by the umask; set it exactly so a lax umask cannot widen it.
    await chmod(temp, KEYSTORE_FILE_MODE);
    if (overwrite) {
      await rename(temp, path);
    } else {
      const exists = () =>
        new KeystoreError(
          'KEYSTORE_EXISTS',
          `keystore ${path} already exists; choose another path or pass overwrite: true`,
          path,
        );
      try {
        // link() fails with EEXIST instead of replacing: an existing key can never be clobbered by a race.
        await link(temp, path);
        await unlink(temp);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw exists();
        if (!code || !NO_HARD_LINKS.has(code)) throw err;
        // Filesystems without hard links: check, then rename (a narrow race, but no partial file).
        if (await pathExists(path)) throw exists();
        await rename(temp, path);
      }
    }
    placed = true;
    await syncDirectory(dir);
  } catch (err) {
    if (!placed) await unlink(temp).catch(() => {});
    if (err instanceof KeystoreError) throw err;
    throw fail('the write did not complete', err);
  }
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename durable; some platforms cannot open or fsync a directory, which is not an error there.
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => {});
  }
}
