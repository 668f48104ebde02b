import { readFileSync } from 'node:fs';
import { CliError } from './errors.ts';

/** Where a passphrase may come from. Never from argv: it would show in `ps` and shell history. */
export interface PassphraseSources {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Ask twice and compare (when creating a keystore). */
  confirm?: boolean;
  purpose: string;
}

export const MIN_PASSPHRASE_LENGTH = 8;

/** Reads the passphrase from `--passphrase-file`, DIBS_PASSPHRASE_FILE, DIBS_PASSPHRASE, or a terminal prompt. */
export async function readPassphrase(src: PassphraseSources): Promise<string> {
  const env = src.env ?? process.env;
  const file = src.file ?? env.DIBS_PASSPHRASE_FILE;
  let pass: string | undefined;
  if (file) {
    try {
      pass = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError(
        'PASSPHRASE_FILE',
        `cannot read passphrase file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'check the path given by --passphrase-file or DIBS_PASSPHRASE_FILE',
      );
    }
  } else if (env.DIBS_PASSPHRASE !== undefined) {
    pass = env.DIBS_PASSPHRASE;
  } else if (process.stdin.isTTY) {
    pass = await promptHidden(`Passphrase for ${src.purpose}: `);
    if (src.confirm) {
      const again = await promptHidden('Repeat passphrase: ');
      if (again !== pass)
        throw new CliError('PASSPHRASE_MISMATCH', 'the two passphrases differ', 'run the command again');
    }
  } else {
    throw new CliError(
      'NO_PASSPHRASE',
      `a passphrase is needed for ${src.purpose} and there is no terminal to ask on`,
      'set DIBS_PASSPHRASE_FILE (or --passphrase-file) to a file holding it, or DIBS_PASSPHRASE',
    );
  }
  if (src.confirm && pass.length < MIN_PASSPHRASE_LENGTH) {
    throw new CliError(
      'WEAK_PASSPHRASE',
      `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`,
      'choose a longer one',
    );
  }
  return pass;
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('CANCELLED', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
