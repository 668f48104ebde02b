import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import {
  ANVIL_LOG_FILE,
  ANVIL_MAX_RESTARTS,
  ANVIL_PID_FILE,
  ANVIL_PROBE_INTERVAL_MS,
  ANVIL_PROBE_MAX_REPLY_BYTES,
  ANVIL_PROBE_TIMEOUT_MS,
  ANVIL_RESTART_BACKOFF_MAX_MS,
  ANVIL_RESTART_BACKOFF_MS,
  ANVIL_RESTART_RESET_MS,
  ANVIL_START_TIMEOUT_MS,
  ANVIL_STATE_FILE,
  ANVIL_STOP_TIMEOUT_MS,
  CHAIN_DIR_NAME,
  DEFAULT_ANVIL_HOST,
  DEFAULT_CHAIN_ID,
  DEFAULT_HARDFORK,
  DEFAULT_STATE_INTERVAL_SECONDS,
} from './constants.ts';
import { AnvilNotFoundError, AnvilStartError, ChainError } from './errors.ts';

/** Log files larger than this are rotated (one old copy kept) when anvil starts. */
const MAX_LOG_BYTES = 10 * 1024 * 1024;
/** Attempts at the first start when the port picked for anvil was taken in the meantime. */
const PORT_PICK_ATTEMPTS = 3;

/**
 * The watchdog beside each anvil: a shell that blocks reading its stdin, a pipe whose only writer is
 * this process. When this process ends in any way (SIGKILL included) the kernel closes the pipe, the
 * read ends, and the watchdog stops anvil — after checking that the pid still runs anvil on this
 * data directory's state file, so a reused pid is never killed. It ignores terminal signals: Ctrl-C
 * reaches the whole process group, and the node, not the watchdog, decides how to shut down.
 * Arguments: $1 anvil's pid, $2 the state file path, $3 seconds to wait after SIGTERM.
 */
const WATCHDOG_SCRIPT = `trap '' INT HUP TERM QUIT
while read -r _; do :; done
ours() {
  if [ -r "/proc/$1/cmdline" ]; then grep -aqF -- "$2" "/proc/$1/cmdline"
  else ps -o args= -p "$1" 2>/dev/null | grep -qF -- "$2"; fi
}
ours "$1" "$2" || exit 0
kill -TERM "$1" 2>/dev/null
i=0
while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$(($3 * 10))" ]; do sleep 0.1; i=$((i + 1)); done
ours "$1" "$2" && kill -KILL "$1" 2>/dev/null
exit 0
`;

/** Lifecycle states of the supervised anvil process. */
export type AnvilState = 'idle' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

/** A state change of the supervisor, with a human-readable message. */
export interface AnvilEvent {
  state: AnvilState;
  message: string;
  pid?: number | undefined;
  port?: number | undefined;
  exitCode?: number | null;
  signal?: string | null;
  attempt?: number;
}

/** Options of the anvil supervisor; only `dataDir` is required. */
export interface AnvilOptions {
  /** The node's data directory; state, log and pid file go to `<dataDir>/chain/`. */
  dataDir: string;
  chainId?: number;
  hardfork?: string;
  host?: string;
  /** Port to listen on; 0 (default) picks a free one, kept across restarts. */
  port?: number;
  /** Path of the anvil binary; default: the one from @foundry-rs/anvil, else `anvil` on PATH. */
  binary?: string;
  stateIntervalSeconds?: number;
  /** Keep historical states in the state file so proofs and calls at old blocks work after a restart. */
  preserveHistoricalStates?: boolean;
  /** Mine a block every N seconds instead of one per transaction. */
  blockTimeSeconds?: number;
  /** Suppress anvil's per-request log lines. */
  silent?: boolean;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  maxRestarts?: number;
  restartBackoffMs?: number;
  /**
   * Run a watchdog beside anvil that stops it when this process dies, SIGKILL included (default
   * true; POSIX only). Without it an anvil outlives a killed node until the next start reaps it.
   */
  watchdog?: boolean;
  /** Called on every state change (also emitted as the `event` event). */
  onEvent?: (event: AnvilEvent) => void;
}

/** Finds the anvil binary shipped by @foundry-rs/anvil for this platform, else `anvil` on PATH. */
export function resolveAnvilBinary(): string {
  const platform = process.platform === 'win32' ? 'win32' : process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const exe = platform === 'win32' ? 'anvil.exe' : 'anvil';
  const req = createRequire(import.meta.url);
  try {
    const pkg = req.resolve(`@foundry-rs/anvil-${platform}-${arch}/package.json`);
    const bin = join(dirname(pkg), 'bin', exe);
    if (existsSync(bin)) return bin;
  } catch {
    // not installed for this platform: fall through to PATH
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, exe))) return join(dir, exe);
  }
  throw new AnvilNotFoundError(
    `no anvil binary found: @foundry-rs/anvil-${platform}-${arch} is not installed and "${exe}" is not on PATH; run npm install, or install Foundry, or pass an explicit binary path`,
  );
}

/**
 * Binds `port` (0 = any) on `host` and releases it, returning the port; fails when it is taken, so a
 * health probe can never be answered by some other chain already listening there.
 */
async function claimPort(host: string, port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

/** Reads a response body up to `max` bytes; larger bodies are an error, not a truncation. */
async function readBounded(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new Error(`reply larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One eth_chainId request; resolves the chain id, rejects on any failure. */
export async function probeChainId(rpcUrl: string, timeoutMs: number): Promise<number> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await readBounded(res, ANVIL_PROBE_MAX_REPLY_BYTES);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const body = JSON.parse(text) as { result?: unknown; error?: { message?: string } };
  if (typeof body.result !== 'string') throw new Error(body.error?.message ?? 'no result in reply');
  return Number.parseInt(body.result, 16);
}

/** True while `pid` runs; a zombie (exited, not yet reaped by its new parent) counts as gone. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const num = signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
  return num === undefined ? -1 : 128 + num;
}

/** Supervisors whose anvil must not outlive this process. */
const live = new Set<AnvilSupervisor>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killAllLive(): void {
  for (const sup of live) sup.killNow();
}

function onSignal(signal: NodeJS.Signals): void {
  // An application with its own handler decides how to shut down (and calls stop()); alone, we
  // stop anvil and let the signal take its default course.
  if (process.listenerCount(signal) > 1) return;
  killAllLive();
  uninstallHooks();
  process.kill(process.pid, signal);
}

function installHooks(): void {
  if (live.size !== 1) return;
  process.on('exit', killAllLive);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHooks(): void {
  process.off('exit', killAllLive);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Runs anvil as a supervised child: persisted state in the data directory, a health check by RPC,
 * restarts with backoff on the same port after an unexpected exit, and a clean SIGTERM stop.
 */
export class AnvilSupervisor extends EventEmitter<{ event: [AnvilEvent] }> {
  readonly chainId: number;
  readonly host: string;
  readonly chainDir: string;
  readonly statePath: string;
  readonly logPath: string;
  readonly pidPath: string;
  readonly #opts: AnvilOptions;
  #binary: string | undefined;
  #state: AnvilState = 'idle';
  #port = 0;
  #child: ChildProcess | undefined;
  #watchdog: ChildProcess | undefined;
  #childExit: Promise<void> | undefined;
  #startedAt = 0;
  #attempt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #launching: Promise<void> | undefined;
  #stopRequested = false;

  constructor(options: AnvilOptions) {
    super();
    this.#opts = options;
    this.chainId = options.chainId ?? DEFAULT_CHAIN_ID;
    this.host = options.host ?? DEFAULT_ANVIL_HOST;
    this.chainDir = join(options.dataDir, CHAIN_DIR_NAME);
    this.statePath = join(this.chainDir, ANVIL_STATE_FILE);
    this.logPath = join(this.chainDir, ANVIL_LOG_FILE);
    this.pidPath = join(this.chainDir, ANVIL_PID_FILE);
  }

  /** Current lifecycle state. */
  get state(): AnvilState {
    return this.#state;
  }

  /** Port anvil listens on (0 before the first start). */
  get port(): number {
    return this.#port;
  }

  /** HTTP JSON-RPC URL of the chain; stable across restarts. */
  get rpcUrl(): string {
    return `http://${this.host}:${this.#port}`;
  }

  /** PID of the running anvil process, if any. */
  get pid(): number | undefined {
    const child = this.#child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** PID of the watchdog that stops anvil if this process dies, if one runs. */
  get watchdogPid(): number | undefined {
    const w = this.#watchdog;
    return w && w.exitCode === null && w.signalCode === null ? w.pid : undefined;
  }

  /** Starts anvil and resolves once it answers eth_chainId with the configured chain id. */
  async start(): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'stopped' && this.#state !== 'failed') {
      throw new ChainError('ANVIL_ALREADY_STARTED', `anvil is already ${this.#state}; stop it first`);
    }
    mkdirSync(this.chainDir, { recursive: true });
    this.#binary ??= this.#opts.binary ?? resolveAnvilBinary();
    await this.#reapOrphan();
    this.#stopRequested = false;
    this.#attempt = 0;
    live.add(this);
    installHooks();
    this.#setState('starting', 'starting anvil');
    try {
      const fixedPort = this.#port || this.#opts.port || 0;
      for (let i = 1; ; i++) {
        const port = fixedPort || (await claimPort(this.host, 0));
        this.#launching = this.#launch(port);
        try {
          await this.#launching;
          break;
        } catch (err) {
          // A picked port can be taken between picking and binding; try another.
          if (fixedPort || i >= PORT_PICK_ATTEMPTS || this.#stopRequested) throw err;
        }
      }
    } catch (err) {
      this.#release();
      this.#setState('failed', `anvil failed to start: ${(err as Error).message}`);
      throw err;
    } finally {
      this.#launching = undefined;
    }
    this.#setState('running', `anvil running on ${this.rpcUrl} (pid ${this.pid})`);
  }

  /** Stops anvil: SIGTERM (anvil writes its state on exit), a bounded wait, then SIGKILL. */
  async stop(): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') return;
    this.#stopRequested = true;
    this.#setState('stopping', 'stopping anvil');
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    await this.#launching?.catch(() => {});
    await this.#terminate(this.#opts.stopTimeoutMs ?? ANVIL_STOP_TIMEOUT_MS);
    this.#release();
    this.#setState('stopped', 'anvil stopped');
  }

  /** Sends SIGTERM to anvil without waiting; used when this process is about to exit. */
  killNow(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    this.#stopRequested = true;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  #release(): void {
    try {
      unlinkSync(this.pidPath);
    } catch {
      // no pid file
    }
    live.delete(this);
    if (live.size === 0) uninstallHooks();
  }

  async #terminate(timeoutMs: number): Promise<void> {
    const child = this.#child;
    const exited = this.#childExit;
    if (!child || !exited || child.exitCode !== null || child.signalCode !== null) return;
    // The timer is cleared once anvil exits, so a stopped supervisor never holds the process open.
    const waitExit = (ms: number) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        exited.then(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    child.kill('SIGTERM');
    if (await waitExit(timeoutMs)) return;
    this.#note(`anvil did not exit ${timeoutMs} ms after SIGTERM; killing it`);
    child.kill('SIGKILL');
    await waitExit(timeoutMs);
  }

  /** Kills an anvil left running on this data directory by a process that died without stopping it. */
  async #reapOrphan(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(this.pidPath, 'utf8').trim(), 10);
    } catch {
      return;
    }
    if (!Number.isSafeInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return; // cannot prove the pid is our anvil (pid reused or no /proc): leave it alone
    }
    if (!cmdline.includes(this.statePath)) return;
    this.#note(`found anvil pid ${pid} left running on this data directory; stopping it`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + (this.#opts.stopTimeoutMs ?? ANVIL_STOP_TIMEOUT_MS);
    while (isProcessAlive(pid) && Date.now() < deadline) await sleep(ANVIL_PROBE_INTERVAL_MS);
    if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  #args(port: number): string[] {
    const o = this.#opts;
    const args = [
      '--host',
      this.host,
      '--port',
      String(port),
      '--chain-id',
      String(this.chainId),
      '--hardfork',
      o.hardfork ?? DEFAULT_HARDFORK,
      '--state',
      this.statePath,
      '--state-interval',
      String(o.stateIntervalSeconds ?? DEFAULT_STATE_INTERVAL_SECONDS),
    ];
    if (o.preserveHistoricalStates) args.push('--preserve-historical-states');
    if (o.blockTimeSeconds !== undefined) args.push('--block-time', String(o.blockTimeSeconds));
    if (o.silent) args.push('--silent');
    return args;
  }

  #rotateLog(): void {
    try {
      if (statSync(this.logPath).size > MAX_LOG_BYTES) renameSync(this.logPath, `${this.logPath}.1`);
    } catch {
      // no log yet
    }
  }

  /** Spawns anvil on `port` and waits until it is healthy; on failure kills it and throws. */
  async #launch(port: number): Promise<void> {
    try {
      await claimPort(this.host, port);
    } catch (err) {
      throw new AnvilStartError(
        `port ${this.host}:${port} is in use (${(err as Error).message}); stop what listens there or choose another port`,
        this.logPath,
      );
    }
    this.#rotateLog();
    this.#note(`launching ${this.#binary} on ${this.host}:${port}`);
    const fd = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.#binary!, this.#args(port), { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        exitInfo ??= { code: null, signal: null, error };
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = { code, signal, ...(exitInfo?.error ? { error: exitInfo.error } : {}) };
        resolve();
        if (this.#child === child && this.#state === 'running') this.#onCrash(code, signal);
      });
    });
    this.#child = child;
    this.#childExit = exited;
    if (child.pid !== undefined) {
      writeFileSync(this.pidPath, `${child.pid}\n`);
      const watchdog = this.#startWatchdog(child.pid);
      if (watchdog) void exited.then(() => watchdog.kill('SIGKILL'));
    }

    const url = `http://${this.host}:${port}`;
    const deadline = Date.now() + (this.#opts.startTimeoutMs ?? ANVIL_START_TIMEOUT_MS);
    let lastError = 'no answer yet';
    for (;;) {
      if (exitInfo) {
        const how = exitInfo.error
          ? `could not be run (${exitInfo.error.message})`
          : `exited with code ${exitCodeOf(exitInfo.code, exitInfo.signal)} while starting`;
        throw new AnvilStartError(`anvil ${how}`, this.logPath);
      }
      if (this.#stopRequested) {
        await this.#terminate(this.#opts.stopTimeoutMs ?? ANVIL_STOP_TIMEOUT_MS);
        throw new AnvilStartError('anvil start was cancelled by stop()', this.logPath);
      }
      try {
        const id = await probeChainId(url, ANVIL_PROBE_TIMEOUT_MS);
        if (id !== this.chainId) {
          await this.#terminate(ANVIL_STOP_TIMEOUT_MS);
          throw new AnvilStartError(
            `anvil answered with chain id ${id}, expected ${this.chainId}; is another chain on port ${port}?`,
            this.logPath,
          );
        }
        break;
      } catch (err) {
        if (err instanceof AnvilStartError) throw err;
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) {
        await this.#terminate(ANVIL_STOP_TIMEOUT_MS);
        throw new AnvilStartError(`anvil did not answer on ${url} in time (${lastError})`, this.logPath);
      }
      await sleep(ANVIL_PROBE_INTERVAL_MS);
    }
    this.#port = port;
    this.#startedAt = Date.now();
  }

  /** Starts the watchdog of anvil `pid` (see WATCHDOG_SCRIPT); it never keeps this process alive. */
  #startWatchdog(pid: number): ChildProcess | undefined {
    if (process.platform === 'win32' || this.#opts.watchdog === false) return undefined;
    const stopSeconds = Math.ceil((this.#opts.stopTimeoutMs ?? ANVIL_STOP_TIMEOUT_MS) / 1000);
    const watchdog = spawn(
      '/bin/sh',
      ['-c', WATCHDOG_SCRIPT, 'dibs-anvil-watchdog', String(pid), this.statePath, String(stopSeconds)],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    watchdog.once('error', (err) => this.#note(`the anvil watchdog could not run: ${err.message}`));
    watchdog.stdin?.on('error', () => {}); // EPIPE once the watchdog is gone
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.#watchdog = watchdog;
    return watchdog;
  }

  #onCrash(code: number | null, signal: NodeJS.Signals | null): void {
    if (Date.now() - this.#startedAt > ANVIL_RESTART_RESET_MS) this.#attempt = 0;
    this.#attempt += 1;
    const max = this.#opts.maxRestarts ?? ANVIL_MAX_RESTARTS;
    const exitCode = exitCodeOf(code, signal);
    const sig = signal ? ` (${signal})` : '';
    if (this.#attempt > max) {
      this.#release();
      // Reported as a state change, not an 'error' event, which would crash processes that do not listen.
      this.#setState(
        'failed',
        `anvil exited with code ${exitCode}${sig}; giving up after ${max} restarts; see ${this.logPath}`,
        { exitCode: code, signal, attempt: this.#attempt },
      );
      return;
    }
    this.#setState(
      'restarting',
      `anvil exited with code ${exitCode}${sig}; restarting (attempt ${this.#attempt})`,
      {
        exitCode: code,
        signal,
        attempt: this.#attempt,
      },
    );
    const base = this.#opts.restartBackoffMs ?? ANVIL_RESTART_BACKOFF_MS;
    const delay = Math.min(base * 2 ** (this.#attempt - 1), ANVIL_RESTART_BACKOFF_MAX_MS);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopRequested) return;
      this.#launching = this.#launch(this.#port);
      this.#launching.then(
        () => {
          this.#launching = undefined;
          if (this.#stopRequested) return;
          this.#setState('running', `anvil restarted on ${this.rpcUrl} (pid ${this.pid})`);
        },
        (err: Error) => {
          this.#launching = undefined;
          if (this.#stopRequested) return;
          this.#note(`restart failed: ${err.message}`);
          this.#startedAt = Date.now();
          this.#state = 'running'; // lets #onCrash count this attempt like any other exit
          this.#onCrash(null, null);
        },
      );
    }, delay);
  }

  #note(message: string): void {
    try {
      appendFileSync(this.logPath, `[dibs ${new Date().toISOString()}] ${message}\n`);
    } catch {
      // the log is best effort; the event hook still reports
    }
  }

  #setState(state: AnvilState, message: string, extra: Partial<AnvilEvent> = {}): void {
    this.#state = state;
    this.#note(message);
    const event: AnvilEvent = { state, message, pid: this.pid, port: this.#port || undefined, ...extra };
    this.#opts.onEvent?.(event);
    this.emit('event', event);
  }
}
