import { Command, CommanderError } from 'commander';
import { accessCommands } from './commands/access.ts';
import { auditCommand } from './commands/audit.ts';
import { chainCommands } from './commands/chain.ts';
import { connectCommand } from './commands/connect.ts';
import { devnetCommands } from './commands/devnet.ts';
import { idCommands } from './commands/id.ts';
import { initCommand } from './commands/init.ts';
import { joinCommand } from './commands/join.ts';
import { loginCommands } from './commands/login.ts';
import { nodeCommands } from './commands/node.ts';
import { proxyCommand } from './commands/proxy.ts';
import { orgCommands } from './commands/org.ts';
import { serviceCommands } from './commands/service.ts';
import { statusCommand } from './commands/status.ts';
import { vpnCommands } from './commands/vpn.ts';
import { upCommand } from './commands/up.ts';
import { cliVersion } from './invocation.ts';
import { reportError } from './output.ts';

/** Options every command accepts. */
export interface GlobalOptions {
  dataDir?: string;
  json?: boolean;
  rpcUrl?: string;
  chainId?: string;
  passphraseFile?: string;
  busyPollUs?: string;
}

export function buildProgram(): Command {
  const program = new Command('dibs')
    .description('DIBS: wallet identities, on-chain access control and tickets for networked services')
    .option('-d, --data-dir <dir>', 'data directory (default: $DIBS_HOME or ~/.dibs)')
    .option('--json', 'print one JSON object for scripts instead of text')
    .option(
      '--rpc-url <url>',
      'use this EVM JSON-RPC endpoint instead of the embedded chain (or DIBS_RPC_URL)',
    )
    .option('--chain-id <id>', 'expected chain id (or DIBS_CHAIN_ID)')
    .option(
      '--busy-poll-us <us>',
      'longest busy-polling window after a small tunnel read, µs; 0 = off (or DIBS_BUSY_POLL_US)',
    )
    .option(
      '--passphrase-file <file>',
      'read the keystore passphrase from this file (or DIBS_PASSPHRASE_FILE)',
    )
    .version(cliVersion(), '-V, --version', 'print the version of dibs')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp(HELP)
    .exitOverride();
  program.addCommand(initCommand());
  program.addCommand(upCommand());
  program.addCommand(joinCommand());
  program.addCommand(idCommands());
  program.addCommand(chainCommands());
  program.addCommand(accessCommands());
  program.addCommand(loginCommands());
  program.addCommand(nodeCommands());
  program.addCommand(serviceCommands());
  program.addCommand(orgCommands());
  program.addCommand(connectCommand());
  program.addCommand(proxyCommand());
  program.addCommand(statusCommand());
  program.addCommand(auditCommand());
  program.addCommand(vpnCommands());
  program.addCommand(devnetCommands());
  for (const cmd of program.commands) propagateSettings(cmd);
  return program;
}

/** Help layout of every command; a subcommand's help lists the global options too. */
const HELP = { sortSubcommands: true, showGlobalOptions: true };

/** Subcommands added with addCommand do not inherit settings: give each ours. */
function propagateSettings(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureHelp(HELP);
  cmd.showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) propagateSettings(sub);
}

/** Runs the CLI and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; usage errors were already printed by commander.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' ? 0 : 2;
    }
    return reportError(json, err);
  }
}
