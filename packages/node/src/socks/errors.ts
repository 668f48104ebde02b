import { REPLY_GENERAL_FAILURE } from './constants.ts';

/** A SOCKS5 failure: `reply` is the RFC 1928 reply code sent to the client before closing. */
export class SocksError extends Error {
  readonly code: string;
  readonly reply: number;
  constructor(code: string, message: string, reply = REPLY_GENERAL_FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SocksError';
    this.code = code;
    this.reply = reply;
  }
}
