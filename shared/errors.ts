/**
 * One error family for the whole control plane. Every error carries a stable `code` (what clients
 * branch on), an HTTP status and a message a person can act on; `details` names fields and the
 * rules they broke, `headers` go on the response (e.g. Retry-After). They are mapped to responses
 * in one place: the errorMapper middleware of shared/http/middlewares.ts.
 */
export interface ErrorDetail {
  field: string;
  rule: string;
  message: string;
}

export class TrellisError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: string, status: number, message: string, options?: { details?: ErrorDetail[]; headers?: Record<string, string>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrellisError';
    this.code = code;
    this.status = status;
    this.details = options?.details;
    this.headers = options?.headers ?? {};
  }
}

export const validationError = (message: string, details: ErrorDetail[]): TrellisError =>
  new TrellisError('ValidationFailed', 400, message, { details });

export const notFound = (what: string, id: string): TrellisError =>
  new TrellisError('NotFound', 404, `${what} ${id} does not exist`);

export const forbidden = (message: string): TrellisError => new TrellisError('Forbidden', 403, message);
