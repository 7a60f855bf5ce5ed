/** `trellis svid fetch [--watch]`: the workload's key made here, its SVID fetched and rotated into files. */
import type { Command } from 'commander';

export function addSvidCommands(program: Command): void {
  void program;
}
