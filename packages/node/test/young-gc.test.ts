/**
 * Young collection of record buffers (young-gc.ts): the pinned runtime provides the collector without
 * a global `gc`, bulk records sealed and opened count their buffers, and every YOUNG_GC_EVERY_BYTES of
 * them brings one real scavenge (seen by a PerformanceObserver), never more than one per turn.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { DATA_KEY_BYTES, MAX_RECORD_PLAINTEXT, YOUNG_GC_EVERY_BYTES } from '../src/tunnel/constants.ts';
import { RecordOpener, RecordSealer } from '../src/tunnel/record.ts';
import {
  disableYoungCollection,
  enableYoungCollection,
  noteRecordBytes,
  youngCollections,
} from '../src/tunnel/young-gc.ts';

const turn = () => new Promise((r) => setImmediate(r));

/** Counts the scavenges V8 reports while `fn` runs (plus a few turns for the reports to arrive). */
async function minorGcsDuring(fn: () => Promise<void>): Promise<number> {
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail = (e as { detail?: { kind?: number } }).detail;
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) count++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    obs.disconnect();
  }
  return count;
}

describe('young collection of record buffers', () => {
  after(() => disableYoungCollection());

  test('the pinned runtime provides the collector, and no global gc appears', () => {
    assert.equal(enableYoungCollection(), true);
    assert.equal(enableYoungCollection(), true, 'idempotent');
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  });

  test('every YOUNG_GC_EVERY_BYTES of record buffers brings one scavenge, one per turn at most', async () => {
    enableYoungCollection();
    const before = youngCollections();
    const seen = await minorGcsDuring(async () => {
      for (let i = 0; i < 10; i++) {
        // A whole batch in one turn asks once: the scavenge runs after the turn.
        noteRecordBytes(YOUNG_GC_EVERY_BYTES);
        noteRecordBytes(YOUNG_GC_EVERY_BYTES);
        await turn();
      }
    });
    assert.equal(youngCollections() - before, 10);
    assert.ok(seen >= 10, `V8 reported ${seen} scavenges`);
  });

  test('sealing and opening bulk records count their buffers', async () => {
    enableYoungCollection();
    const key = randomBytes(DATA_KEY_BYTES);
    const sealer = new RecordSealer(key);
    const opener = new RecordOpener(key);
    const plain = randomBytes(MAX_RECORD_PLAINTEXT);
    const before = youngCollections();
    const records = Math.ceil((4 * YOUNG_GC_EVERY_BYTES) / MAX_RECORD_PLAINTEXT);
    for (let i = 0; i < records; i++) {
      const sealed = Buffer.concat(sealer.seal(plain));
      const [opened] = opener.push(sealed);
      assert.equal(opened!.plaintext.length, plain.length);
      await turn();
    }
    // 4 × the threshold sealed and 4 × opened: eight scavenges, give or take a partial count.
    const asked = youngCollections() - before;
    assert.ok(asked >= 7 && asked <= 8, `asked for ${asked} scavenges`);
  });

  test('disabled, nothing is counted and nothing is asked for', async () => {
    disableYoungCollection();
    const before = youngCollections();
    for (let i = 0; i < 10; i++) {
      noteRecordBytes(YOUNG_GC_EVERY_BYTES);
      await turn();
    }
    assert.equal(youngCollections(), before);
  });
});
