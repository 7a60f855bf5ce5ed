/**
 * `trellis`: the control plane's administrator commands and the workload edge (SVID fetch and
 * rotation, credential_process, calls to Lattice services). Commander parses the command line;
 * each group of commands lives in its own module.
 */
import { Command, CommanderError, Option } from 'commander';
import { addAdminCommands } from './admin-commands';
import { EXIT, globalOptions, reportError } from './context';
import { addCredentialCommands } from './credential-commands';
import { addOpsCommands } from './ops-commands';
import { addSvidCommands } from './svid-commands';

export function buildProgram(): Command {
  const program = new Command('trellis')
    .description('SPIFFE identities for workloads and who-may-call-whom on Amazon VPC Lattice')
    .addOption(new Option('--json', 'print machine-readable JSON (errors too, on stderr)'))
    .addOption(new Option('--api <url>', 'a deployed stage\'s API URL; requests are signed with SigV4 from the AWS credential chain'))
    .addOption(new Option('--region <region>', 'the deployed stage\'s region (default AWS_REGION)'))
    .addOption(new Option('--endpoints <file>', 'the local stack\'s endpoints.json (default $TRELLIS_ENDPOINTS or ./.trellis/endpoints.json)'))
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 refused or failed (the error names its code and the fix), 2 usage.')
    .exitOverride();
  addAdminCommands(program);
  addSvidCommands(program);
  addCredentialCommands(program);
  addOpsCommands(program);
  for (const command of program.commands) applyExitOverride(command);
  return program;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  for (const child of command.commands) applyExitOverride(child);
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0; parse errors were already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(error, globalOptions(program).json);
  }
}
