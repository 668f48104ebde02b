/** bench/tunnel: a process's memory, sampled once it settled. */

/**
 * Memory once it settled: memory freed by earlier work (the throughput runs' buffers) goes back to
 * the system some time after a collection, and a sample taken before that would make the growth that
 * follows look smaller, or negative. Collects and samples until two samples 250 ms apart agree
 * within 256 KiB (at most 20 tries).
 */
export async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  let last = process.memoryUsage();
  for (let i = 0; i < 20; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 250));
    const now = process.memoryUsage();
    const settled = Math.abs(now.rss - last.rss) < 256 * 1024;
    last = now;
    if (settled) break;
  }
  return last;
}
