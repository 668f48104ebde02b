import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';

/**
 * Length and sha256 (hex) of a file a transfer wrote (read as a stream, never held whole in memory);
 * the file is removed afterwards.
 */
export async function takeFileDigest(path: string): Promise<{ length: number; sha256: string }> {
  const hash = createHash('sha256');
  let length = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
  } finally {
    await unlink(path).catch(() => {});
  }
  return { length, sha256: hash.digest('hex') };
}
