/**
 * The provider's state in the node's SQLite database: OIDC artifacts (sessions, codes, tokens, grants,
 * interactions) through an `oidc-provider` adapter, registered clients with their secret sealed under
 * the wallet, and the provider's signing and cookie keys, sealed the same way.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { SecretBox } from '@dibs/core';
import type { Store } from '@dibs/store';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import {
  CLIENT_ID_BYTES,
  CLIENT_SECRET_BYTES,
  ID_TOKEN_ALG,
  LOGIN_STORE_NAMESPACE,
  MAX_REDIRECT_URI_CHARS,
  MAX_REDIRECT_URIS,
} from './constants.ts';
import { LoginError } from './errors.ts';

const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE login_artifacts (
      model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
      grant_id TEXT, uid TEXT, user_code TEXT, expires_at INTEGER, consumed_at INTEGER,
      PRIMARY KEY (model, id))`);
    db.exec('CREATE INDEX login_artifacts_grant ON login_artifacts (grant_id)');
    db.exec('CREATE INDEX login_artifacts_uid ON login_artifacts (uid)');
    db.exec(`CREATE TABLE login_clients (
      client_id TEXT PRIMARY KEY, service_id TEXT NOT NULL, name TEXT NOT NULL,
      redirect_uris TEXT NOT NULL, secret_box BLOB NOT NULL, created_at INTEGER NOT NULL)`);
    db.exec(
      'CREATE TABLE login_keys (kid TEXT PRIMARY KEY, purpose TEXT NOT NULL, key_box BLOB NOT NULL, created_at INTEGER NOT NULL)',
    );
  },
];

/** Creates the provider's tables (idempotent). */
export function migrateLoginStore(store: Store): void {
  store.migrate(LOGIN_STORE_NAMESPACE, MIGRATIONS);
}

interface ArtifactRow {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

/** An `oidc-provider` adapter class over `store`; Client lookups read the registered clients. */
export function sqliteAdapter(store: Store, clients: ClientRegistry): new (name: string) => Adapter {
  return class SqliteAdapter implements Adapter {
    readonly name: string;
    constructor(name: string) {
      this.name = name;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : null;
      store.run(
        `INSERT INTO login_artifacts (model, id, payload, grant_id, uid, user_code, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
         uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`,
        this.name,
        id,
        JSON.stringify(payload),
        payload.grantId ?? null,
        payload.uid ?? null,
        payload.userCode ?? null,
        expiresAt,
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.name === 'Client') return clients.metadata(id);
      const row = store.db
        .prepare('SELECT payload, expires_at, consumed_at FROM login_artifacts WHERE model = ? AND id = ?')
        .get(this.name, id) as ArtifactRow | undefined;
      return this.#row(row);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const row = store.db
        .prepare(
          'SELECT payload, expires_at, consumed_at FROM login_artifacts WHERE model = ? AND user_code = ?',
        )
        .get(this.name, userCode) as ArtifactRow | undefined;
      return this.#row(row);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const row = store.db
        .prepare('SELECT payload, expires_at, consumed_at FROM login_artifacts WHERE model = ? AND uid = ?')
        .get(this.name, uid) as ArtifactRow | undefined;
      return this.#row(row);
    }

    async consume(id: string): Promise<void> {
      store.run(
        'UPDATE login_artifacts SET consumed_at = ? WHERE model = ? AND id = ?',
        Math.floor(Date.now() / 1000),
        this.name,
        id,
      );
    }

    async destroy(id: string): Promise<void> {
      store.run('DELETE FROM login_artifacts WHERE model = ? AND id = ?', this.name, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      store.run('DELETE FROM login_artifacts WHERE grant_id = ?', grantId);
    }

    #row(row: ArtifactRow | undefined): AdapterPayload | undefined {
      if (!row) return undefined;
      if (row.expires_at !== null && row.expires_at <= Date.now()) return undefined;
      const payload = JSON.parse(row.payload) as AdapterPayload;
      if (row.consumed_at !== null) payload.consumed = row.consumed_at;
      return payload;
    }
  };
}

/** Deletes expired artifacts; returns how many. */
export function pruneArtifacts(store: Store): number {
  const r = store.db
    .prepare('DELETE FROM login_artifacts WHERE expires_at IS NOT NULL AND expires_at <= ?')
    .run(Date.now());
  return Number(r.changes);
}

/** A registered client as listed (never with its secret). */
export interface LoginClient {
  clientId: string;
  serviceId: bigint;
  name: string;
  redirectUris: string[];
  createdAt: number;
}

interface ClientRow {
  client_id: string;
  service_id: string;
  name: string;
  redirect_uris: string;
  secret_box: Uint8Array;
  created_at: number;
}

/** Checks redirect URIs: absolute http(s), no fragment; plain http only to loopback. */
export function checkRedirectUris(uris: readonly string[]): string[] {
  if (uris.length === 0 || uris.length > MAX_REDIRECT_URIS) {
    throw new LoginError(
      'BAD_REDIRECT_URI',
      `give 1 to ${MAX_REDIRECT_URIS} redirect URIs`,
      'pass --redirect-uri',
    );
  }
  return uris.map((uri) => {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new LoginError(
        'BAD_REDIRECT_URI',
        `"${uri}" is not an absolute URL`,
        'use e.g. https://app.example/callback',
      );
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (
      uri.length > MAX_REDIRECT_URI_CHARS ||
      url.hash ||
      !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))
    ) {
      throw new LoginError(
        'BAD_REDIRECT_URI',
        `redirect URI "${uri}" must be https (http only to loopback), without a fragment, at most ${MAX_REDIRECT_URI_CHARS} characters`,
        'use an https URL of the application',
      );
    }
    return uri;
  });
}

/** Clients registered by applications' owners, bound to their login service. */
export class ClientRegistry {
  readonly #store: Store;
  readonly #box: SecretBox | undefined;

  /** Without `box` (the wallet locked) clients can be listed and removed, not added or served. */
  constructor(store: Store, box?: SecretBox) {
    migrateLoginStore(store);
    this.#store = store;
    this.#box = box;
  }

  #unlocked(): SecretBox {
    if (!this.#box) {
      throw new LoginError('LOCKED', 'client secrets are sealed under the wallet', 'unlock the wallet first');
    }
    return this.#box;
  }

  /** Registers a confidential client for `serviceId`; the secret is returned here only. */
  add(params: {
    serviceId: bigint;
    name: string;
    redirectUris: string[];
  }): LoginClient & { clientSecret: string } {
    const redirectUris = checkRedirectUris(params.redirectUris);
    const clientId = `dibs_${randomBytes(CLIENT_ID_BYTES).toString('base64url')}`;
    const clientSecret = randomBytes(CLIENT_SECRET_BYTES).toString('base64url');
    const createdAt = Date.now();
    this.#store.run(
      'INSERT INTO login_clients (client_id, service_id, name, redirect_uris, secret_box, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      clientId,
      String(params.serviceId),
      params.name,
      JSON.stringify(redirectUris),
      this.#unlocked().seal(new TextEncoder().encode(clientSecret), `login-client:${clientId}`),
      createdAt,
    );
    return {
      clientId,
      clientSecret,
      serviceId: params.serviceId,
      name: params.name,
      redirectUris,
      createdAt,
    };
  }

  list(serviceId?: bigint): LoginClient[] {
    const rows = (serviceId === undefined
      ? this.#store.db.prepare('SELECT * FROM login_clients ORDER BY created_at').all()
      : this.#store.db
          .prepare('SELECT * FROM login_clients WHERE service_id = ? ORDER BY created_at')
          .all(String(serviceId))) as unknown as ClientRow[];
    return rows.map(toClient);
  }

  get(clientId: string): LoginClient | undefined {
    const row = this.#row(clientId);
    return row ? toClient(row) : undefined;
  }

  /** Removes a client and every token, code and grant issued to it. */
  remove(clientId: string): boolean {
    return this.#store.transaction(() => {
      const r = this.#store.db.prepare('DELETE FROM login_clients WHERE client_id = ?').run(clientId);
      if (Number(r.changes) === 0) return false;
      this.#store.run(`DELETE FROM login_artifacts WHERE json_extract(payload, '$.clientId') = ?`, clientId);
      return true;
    });
  }

  /** The client's `oidc-provider` metadata (with its secret), or undefined. */
  metadata(clientId: string): AdapterPayload | undefined {
    const row = this.#row(clientId);
    if (!row) return undefined;
    const secret = new TextDecoder().decode(
      this.#unlocked().open(new Uint8Array(row.secret_box), `login-client:${clientId}`),
    );
    return {
      client_id: row.client_id,
      client_secret: secret,
      client_name: row.name,
      redirect_uris: JSON.parse(row.redirect_uris) as string[],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: ID_TOKEN_ALG,
      dibs_service_id: row.service_id,
    };
  }

  #row(clientId: string): ClientRow | undefined {
    if (typeof clientId !== 'string' || clientId.length > 128) return undefined;
    return this.#store.db.prepare('SELECT * FROM login_clients WHERE client_id = ?').get(clientId) as
      | ClientRow
      | undefined;
  }
}

function toClient(r: ClientRow): LoginClient {
  return {
    clientId: r.client_id,
    serviceId: BigInt(r.service_id),
    name: r.name,
    redirectUris: JSON.parse(r.redirect_uris) as string[],
    createdAt: r.created_at,
  };
}

/** The provider's keys: an RS256 signing key (JWK with `kid`) and cookie keys, made once, sealed at rest. */
export function loadProviderKeys(
  store: Store,
  box: SecretBox,
): { jwks: { keys: object[] }; cookieKeys: string[] } {
  migrateLoginStore(store);
  return store.transaction(() => {
    const rows = store.db
      .prepare('SELECT kid, purpose, key_box FROM login_keys ORDER BY created_at')
      .all() as Array<{
      kid: string;
      purpose: string;
      key_box: Uint8Array;
    }>;
    const open = (r: { kid: string; key_box: Uint8Array }) =>
      new TextDecoder().decode(box.open(new Uint8Array(r.key_box), `login-key:${r.kid}`));
    let signing = rows.filter((r) => r.purpose === 'signing').map((r) => JSON.parse(open(r)) as object);
    let cookies = rows.filter((r) => r.purpose === 'cookie').map(open);
    const put = (kid: string, purpose: string, text: string) =>
      store.run(
        'INSERT INTO login_keys (kid, purpose, key_box, created_at) VALUES (?, ?, ?, ?)',
        kid,
        purpose,
        box.seal(new TextEncoder().encode(text), `login-key:${kid}`),
        Date.now(),
      );
    if (signing.length === 0) {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const kid = randomBytes(12).toString('base64url');
      const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: ID_TOKEN_ALG, use: 'sig' };
      put(kid, 'signing', JSON.stringify(jwk));
      signing = [jwk];
    }
    if (cookies.length === 0) {
      const key = randomBytes(32).toString('base64url');
      put(`cookie-${randomBytes(6).toString('hex')}`, 'cookie', key);
      cookies = [key];
    }
    return { jwks: { keys: signing }, cookieKeys: cookies };
  });
}
