/** Administrator commands over the control-plane API: workloads, grants, services, policies. */
import type { Command } from 'commander';

export function addAdminCommands(program: Command): void {
  void program;
}
