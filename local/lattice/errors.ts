/**
 * VPC Lattice errors as the restJson1 wire protocol carries them: the `x-amzn-ErrorType` header names the
 * error (the JS SDK reads the header first), the status code is the one the model gives the error, and the
 * JSON body holds the camelCase members of the error shape (docs/aws-behaviour.md, "VPC Lattice auth
 * policies › Lattice API errors").
 */

export type LatticeErrorName =
  | 'ValidationException'
  | 'AccessDeniedException'
  | 'ResourceNotFoundException'
  | 'ConflictException'
  | 'ServiceQuotaExceededException'
  | 'ThrottlingException'
  | 'InternalServerException';

export const ERROR_STATUS: Readonly<Record<LatticeErrorName, number>> = {
  ValidationException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  ServiceQuotaExceededException: 402,
  ThrottlingException: 429,
  InternalServerException: 500,
};

export type ValidationReason = 'unknownOperation' | 'cannotParse' | 'fieldValidationFailed' | 'other';

/** One entry of ValidationException.fieldList: the member name as the model spells it, and what is wrong. */
export interface FieldError {
  name: string;
  message: string;
}

/** The resourceType strings this stand-in puts in ResourceNotFound/Conflict (UNCONFIRMED wording; AWS does not document them). */
export type LatticeResourceType = 'SERVICE' | 'SERVICE_NETWORK' | 'RESOURCE_CONFIGURATION';

export class LatticeApiError extends Error {
  readonly errorType: LatticeErrorName;
  readonly status: number;
  /** Body members, camelCase, exactly as sent. */
  readonly members: Readonly<Record<string, unknown>>;
  /** Sent as the `Retry-After` header (ThrottlingException, InternalServerException). */
  readonly retryAfterSeconds: number | undefined;

  constructor(errorType: LatticeErrorName, members: Record<string, unknown> & { message: string }, retryAfterSeconds?: number) {
    super(members.message);
    this.name = errorType;
    this.errorType = errorType;
    this.status = ERROR_STATUS[errorType];
    this.members = members;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const summarize = (fields: readonly FieldError[]): string => {
  const count = `${fields.length} validation error${fields.length === 1 ? '' : 's'} detected`;
  return `${count}: ${fields.map((f) => `${f.name}: ${f.message}`).join('; ')}`;
};

export const fieldValidationFailed = (fields: readonly FieldError[]): LatticeApiError =>
  new LatticeApiError('ValidationException', {
    message: summarize(fields),
    reason: 'fieldValidationFailed',
    fieldList: fields.map((f) => ({ name: f.name, message: f.message })),
  });

export const cannotParse = (message: string, fields?: readonly FieldError[]): LatticeApiError =>
  new LatticeApiError('ValidationException', {
    message,
    reason: 'cannotParse',
    ...(fields === undefined ? {} : { fieldList: fields.map((f) => ({ name: f.name, message: f.message })) }),
  });

export const unknownOperation = (method: string, path: string): LatticeApiError =>
  new LatticeApiError('ValidationException', {
    message: `No operation matches ${method} ${path}`,
    reason: 'unknownOperation',
  });

export const resourceNotFound = (resourceId: string, resourceType: LatticeResourceType): LatticeApiError =>
  new LatticeApiError('ResourceNotFoundException', {
    message: `The ${resourceType.toLowerCase().replace(/_/g, ' ')} ${resourceId} was not found`,
    resourceId,
    resourceType,
  });

export const conflict = (message: string, resourceId: string, resourceType: LatticeResourceType): LatticeApiError =>
  new LatticeApiError('ConflictException', { message, resourceId, resourceType });

export const internalServerError = (): LatticeApiError =>
  // Never leak the cause: the stand-in logs it (when logging is on) and answers a generic message.
  new LatticeApiError('InternalServerException', { message: 'An internal error occurred' });
