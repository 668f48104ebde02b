import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContractRevertError } from '@dibs/chain';
import { ApiError } from '../src/api/errors.ts';
import { toApiError } from '../src/daemon/api-errors.ts';

/** Shaped like the services runtime's errors: the message already ends with the hint. */
class ServiceError extends Error {
  readonly code: string;
  readonly hint: string;
  constructor(code: string, message: string, hint: string) {
    super(`${message}; ${hint}`);
    this.code = code;
    this.hint = hint;
  }
}

function mapped(err: unknown): ApiError {
  const out = toApiError(err);
  assert.ok(out instanceof ApiError, `${String((err as Error).message)} maps to an ApiError`);
  return out;
}

describe('errors of the node parts as HTTP answers', () => {
  it('maps the services runtime codes to the status a client can act on', () => {
    const cases: Array<[string, number]> = [
      ['UNKNOWN_SERVICE', 404],
      ['UNKNOWN_CONNECTION', 404],
      ['NO_VPN_SERVICE', 404],
      ['ACCESS_DENIED', 403],
      ['NOT_OWNER', 403],
      ['SERVICE_RETIRED', 409],
      ['AMBIGUOUS_SERVICE', 409],
      ['LISTEN_FAILED', 409],
      ['BAD_TARGET', 400],
      ['TARGET_REQUIRED', 400],
      ['TOO_MANY_RULES', 400],
      ['HOST_UNREACHABLE', 502],
      ['TUNNEL_FAILED', 502],
      ['TIMEOUT', 502],
      ['TOO_MANY_TUNNELS', 503],
    ];
    for (const [code, status] of cases) {
      const e = mapped(new ServiceError(code, `something about ${code}`, 'do this'));
      assert.equal(e.status, status, code);
      assert.equal(e.code, code);
      assert.equal(e.message.match(/do this/g)?.length, 1, 'the hint is said once');
    }
  });

  it('adds a separate hint to the message and keeps the cause', () => {
    const cause = Object.assign(new Error('grant 5 expired'), { code: 'EXPIRED', hint: 'request it again' });
    const e = mapped(cause);
    assert.equal(e.status, 403);
    assert.equal(e.message, 'grant 5 expired; request it again');
    assert.equal(e.cause, cause);
  });

  it('maps contract reverts by their custom error, else as an upstream failure', () => {
    const owner = new ContractRevertError({
      contract: 'AccessGrants',
      functionName: 'revoke',
      errorName: 'NotServiceOwner',
      detail: 'x',
    });
    assert.equal(mapped(owner).status, 403);
    const other = new ContractRevertError({ contract: 'Services', functionName: 'publish', detail: 'x' });
    assert.equal(mapped(other).status, 502);
  });

  it('leaves untyped and unknown errors alone (the server answers 500 without details)', () => {
    const plain = new Error('boom');
    assert.equal(toApiError(plain), plain);
    const odd = Object.assign(new Error('odd'), { code: 'SOMETHING_ELSE' });
    assert.equal(toApiError(odd), odd);
    assert.equal(toApiError('text'), 'text');
    const api = new ApiError(418, 'TEAPOT', 'short and stout');
    assert.equal(toApiError(api), api);
  });
});
