/** `trellis credential-process` and `trellis call`: AWS credentials from the SVID, and calls to Lattice services. */
import type { Command } from 'commander';

export function addCredentialCommands(program: Command): void {
  void program;
}
