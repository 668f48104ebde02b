/** The logging surface the API writes to; the daemon's structured logger fits it as is. */

/** Structured log sink: a message plus fields (never secrets, never the token). */
export interface ApiLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (quiet tests). */
export const silentApiLogger: ApiLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Warnings and errors to stderr as single lines; the default when no logger is injected. */
export const stderrApiLogger: ApiLogger = {
  debug() {},
  info() {},
  warn: (msg, fields) =>
    process.stderr.write(`api warn: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`),
  error: (msg, fields) =>
    process.stderr.write(`api error: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`),
};
