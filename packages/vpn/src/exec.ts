/** Runs `ip`, `nft` and friends with a time bound; a failure names the command and its stderr. */
import { spawn } from 'node:child_process';
import { COMMAND_TIMEOUT_MS } from './constants.ts';
import { VpnError } from './errors.ts';

/** Output of a finished command. */
export interface CommandResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd args` (no shell), feeding `input` on stdin; rejects with COMMAND_FAILED on a non-zero
 * exit or after `timeoutMs`. Arguments never carry secrets (keys go over the UAPI socket).
 */
export function runCommand(
  cmd: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 16) stderr += d;
    });
    const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new VpnError('COMMAND_FAILED', `cannot run ${cmd}: ${err.message}`, `install ${cmd} (see README)`, {
          cause: err,
        }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `was killed (${signal}) after ${timeoutMs} ms` : `exited ${code}`;
        reject(
          new VpnError('COMMAND_FAILED', `${cmd} ${args.join(' ')} ${why}: ${stderr.trim().slice(0, 400)}`),
        );
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
