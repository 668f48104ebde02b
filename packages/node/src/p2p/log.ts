/** The logging surface the p2p layer writes to; the daemon's structured logger fits it as is. */

/** Structured log sink: a message plus fields (never secrets). */
export interface P2pLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (benches, quiet tests). */
export const silentLogger: P2pLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Warnings and errors to stderr as single lines; the default when no logger is injected. */
export const stderrLogger: P2pLogger = {
  debug() {},
  info() {},
  warn(msg, fields) {
    process.stderr.write(`p2p warn: ${msg}${fields ? ` ${safeJson(fields)}` : ''}\n`);
  },
  error(msg, fields) {
    process.stderr.write(`p2p error: ${msg}${fields ? ` ${safeJson(fields)}` : ''}\n`);
  },
};

function safeJson(fields: Record<string, unknown>): string {
  return JSON.stringify(fields, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}
