import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, buildHash, ContractsBuildError, compileSources, readSources } from '../scripts/build.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dibs-contracts-build-'));
  dirs.push(d);
  return d;
}

const GOOD = `// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
contract Counter {
    uint256 public count;
    event Counted(uint256 count);
    function inc() external { emit Counted(++count); }
    function balanceOf(IERC20 token) external view returns (uint256) { return token.balanceOf(msg.sender); }
}
`;

test('a compiler error raises ContractsBuildError naming the file and the problem', () => {
  assert.throws(
    () =>
      compileSources({
        'contracts/Broken.sol': 'pragma solidity ^0.8.28; contract Broken { uint256 x = ; }',
      }),
    (err: unknown) =>
      err instanceof ContractsBuildError &&
      err.code === 'SOLC_COMPILE_ERROR' &&
      err.message.includes('contracts/Broken.sol') &&
      err.message.includes('ParserError'),
  );
});

test('imports outside @openzeppelin/contracts are refused', () => {
  assert.throws(
    () =>
      compileSources({ 'contracts/A.sol': 'pragma solidity ^0.8.28; import "evil/B.sol"; contract A {}' }),
    (err: unknown) => err instanceof ContractsBuildError && err.message.includes('neither a local source'),
  );
});

test('build writes importable ABI and bytecode modules, then skips until a source changes', async () => {
  const src = tempDir();
  const out = tempDir();
  mkdirSync(join(src, 'interfaces'));
  writeFileSync(join(src, 'Counter.sol'), GOOD);
  writeFileSync(
    join(src, 'interfaces', 'ICounter.sol'),
    'pragma solidity ^0.8.28; interface ICounter { function inc() external; }',
  );

  const first = build({ sourceDir: src, outDir: out });
  assert.equal(first.skipped, false);
  assert.deepEqual(first.contracts, ['Counter']);
  assert.equal(readFileSync(join(out, 'build-hash'), 'utf8').trim(), first.hash);

  const abis = (await import(join(out, 'abis.ts'))) as Record<string, unknown>;
  const bytecode = (await import(join(out, 'bytecode.ts'))) as Record<string, unknown>;
  assert.deepEqual(Object.keys(abis), ['counterAbi']);
  const abi = abis.counterAbi as { type: string; name?: string }[];
  assert.ok(abi.some((e) => e.type === 'event' && e.name === 'Counted'));
  assert.match(bytecode.counterBytecode as string, /^0x[0-9a-f]{100,}$/);

  const second = build({ sourceDir: src, outDir: out });
  assert.equal(second.skipped, true);
  assert.equal(second.hash, first.hash);

  writeFileSync(
    join(src, 'Counter.sol'),
    GOOD.replace('uint256 public count;', 'uint256 public count; // changed'),
  );
  const third = build({ sourceDir: src, outDir: out });
  assert.equal(third.skipped, false);
  assert.notEqual(third.hash, first.hash);
});

test('the hash covers file names and contents', () => {
  const a = buildHash({ 'contracts/A.sol': 'x' });
  assert.notEqual(a, buildHash({ 'contracts/A.sol': 'y' }));
  assert.notEqual(a, buildHash({ 'contracts/B.sol': 'x' }));
  assert.equal(a, buildHash({ 'contracts/A.sol': 'x' }));
  const real = readSources();
  assert.ok(Object.keys(real).includes('contracts/AccessGrants.sol'));
});

test('the build script exits non-zero with the compiler message on a broken source', () => {
  const src = tempDir();
  const out = tempDir();
  writeFileSync(join(src, 'Broken.sol'), 'pragma solidity ^0.8.28; contract Broken { function f( }');
  const script = fileURLToPath(new URL('../scripts/build.ts', import.meta.url));
  const result = spawnSync(process.execPath, [script, '--source-dir', src, '--out-dir', out], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /Solidity compilation failed with 1 error/);
  assert.match(result.stderr, /Broken\.sol/);
});
