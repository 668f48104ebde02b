import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { test } from 'node:test';
import {
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  encodeErrorResult,
  type Hex,
  toHex,
} from 'viem';
import { createChainClients } from '../src/clients.ts';
import { ChainUnreachableError } from '../src/errors.ts';
import { decodeRevert, dibsErrorsAbi } from '../src/tx.ts';

function wrapped(data: Hex) {
  // viem's shape for a reverted call: execution error wrapping the revert (decoded with an empty ABI)
  const cause = new ContractFunctionRevertedError({ abi: [], data, functionName: 'f' });
  return new ContractFunctionExecutionError(cause, { abi: [], functionName: 'f', args: [] });
}

test('fuzz: arbitrary revert data never breaks decoding; random DIBS errors decode to their name and args', () => {
  for (let i = 0; i < 500; i++) {
    const data = toHex(randomBytes(i % 200));
    const out = decodeRevert(wrapped(data));
    assert.equal(typeof out.detail, 'string');
  }
  const errors = dibsErrorsAbi.filter((e) => e.type === 'error');
  assert.ok(errors.length > 20);
  for (let i = 0; i < 300; i++) {
    const error = errors[i % errors.length]!;
    if (error.type !== 'error') continue;
    const args = error.inputs.map((input) => {
      if (input.type === 'address') return toHex(randomBytes(20));
      if (input.type === 'bool') return i % 2 === 0;
      if (input.type === 'bytes32') return toHex(randomBytes(32));
      if (input.type.startsWith('uint')) {
        const bits = Number(input.type.slice(4) || 256);
        return BigInt(toHex(randomBytes(bits / 8)));
      }
      throw new Error(`unhandled input type ${input.type}`);
    });
    const data = encodeErrorResult({ abi: [error], errorName: error.name, args } as never);
    const out = decodeRevert(wrapped(data));
    assert.equal(out.errorName, error.name);
    assert.equal(out.args?.length, args.length);
    for (const [j, a] of args.entries()) {
      assert.equal(String(out.args?.[j]).toLowerCase(), String(a).toLowerCase());
    }
  }
  assert.deepEqual(decodeRevert(new Error('plain')), { detail: 'plain' });
  assert.deepEqual(decodeRevert('text'), { detail: 'text' });
});

test('the connectivity probe reads at most a bounded reply', async (t) => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, result: `0x${'1'.repeat(1 << 20)}` });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(big);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await assert.rejects(createChainClients({ rpcUrl: url }), (err: unknown) => {
    assert.ok(err instanceof ChainUnreachableError);
    assert.match(err.message, /larger than 4096 bytes/);
    return true;
  });
});
