/**
 * Errors of the workload edge (CLI, credential process, SVID agent, credential provider). Each
 * carries a stable `code` to branch on, a message saying what went wrong, and a `fix`: what the
 * person should check or run next. The CLI prints all three.
 */
export class WorkloadEdgeError extends Error {
  readonly code: string;
  readonly fix: string;

  constructor(code: string, message: string, fix: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WorkloadEdgeError';
    this.code = code;
    this.fix = fix;
  }
}
