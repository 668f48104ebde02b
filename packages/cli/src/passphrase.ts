import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './errors.ts';

/** A data directory's own passphrase file, as `dibs devnet up` writes it (mode 0600). */
export const DATA_DIR_PASSPHRASE_FILE = 'passphrase';

/** Where a passphrase may come from. Never from argv: it would show in `ps` and shell history. */
export interface PassphraseSources {
  file?: string | undefined;
  /** The data directory: its `passphrase` file, when there is one, is used before the environment. */
  dataDir?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Ask twice and compare (when creating a keystore). */
  confirm?: boolean;
  purpose: string;
}

export const MIN_PASSPHRASE_LENGTH = 8;

/**
 * Reads the passphrase from `--passphrase-file`, the data directory's `passphrase` file (a devnet
 * node's), DIBS_PASSPHRASE_FILE, DIBS_PASSPHRASE, or a terminal prompt — in that order: a file in
 * the data dir belongs to that identity, the environment may be set for another one.
 */
export async function readPassphrase(src: PassphraseSources): Promise<string> {
  const env = src.env ?? process.env;
  const own = src.dataDir === undefined ? undefined : join(src.dataDir, DATA_DIR_PASSPHRASE_FILE);
  const file = src.file ?? (own && existsSync(own) ? own : undefined) ?? env.DIBS_PASSPHRASE_FILE;
  let pass: string | undefined;
  if (file) {
    try {
      pass = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError(
        'PASSPHRASE_FILE',
        `cannot read passphrase file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        `check the path given by --passphrase-file or DIBS_PASSPHRASE_FILE${own ? ` (or ${own})` : ''}`,
      );
    }
  } else if (env.DIBS_PASSPHRASE !== undefined) {
    pass = env.DIBS_PASSPHRASE;
  } else if (process.stdin.isTTY) {
    const questions = [`Passphrase for ${src.purpose}: `, ...(src.confirm ? ['Repeat passphrase: '] : [])];
    const [first, again] = await promptHidden(questions);
    pass = first!;
    if (src.confirm && again !== pass) {
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

/**
 * Asks each question in turn and reads one line per question from the terminal without echoing
 * it. The terminal stays in raw mode from the first question to the last answer, so nothing typed
 * between two prompts is ever echoed.
 */
function promptHidden(questions: string[]): Promise<string[]> {
  const stdin = process.stdin;
  const answers: string[] = [];
  let value = '';
  process.stderr.write(questions[0]!);
  return new Promise((resolve, reject) => {
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.off('data', onData);
      if (err) reject(err);
      else resolve(answers);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          answers.push(value);
          value = '';
          process.stderr.write('\n');
          if (answers.length === questions.length) return done();
          process.stderr.write(questions[answers.length]!);
        } else if (ch === '\u0003') {
          process.stderr.write('\n');
          return done(new CliError('CANCELLED', 'cancelled'));
        } else if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
