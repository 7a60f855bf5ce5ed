/**
 * Errors of the local ACM PCA emulator, named exactly as AWS Private CA names them on the wire
 * (`__type` and `x-amzn-ErrorType`). These never leave the emulator as JS errors: the HTTP layer
 * encodes them as awsJson1_1 errors and the AWS SDK on the other side turns them back into
 * exceptions with the same `name` (docs/aws-behaviour.md, "ACM Private CA › PCA errors and
 * throttling").
 */
export type PcaErrorName =
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ThrottlingException'
  | 'InvalidArgsException'
  | 'InvalidArnException'
  | 'InvalidRequestException'
  | 'InvalidStateException'
  | 'MalformedCSRException'
  | 'ResourceNotFoundException'
  | 'RequestInProgressException'
  | 'RequestAlreadyProcessedException'
  | 'InternalFailure';

export class PcaError extends Error {
  readonly errorName: PcaErrorName;
  /** HTTP status. AWS answers every modelled ACM PCA error with 400; only InternalFailure is 500. */
  readonly status: number;

  constructor(errorName: PcaErrorName, message: string, status = 400) {
    super(message);
    this.name = errorName;
    this.errorName = errorName;
    this.status = status;
  }
}

export const pcaError = (name: PcaErrorName, message: string): PcaError => new PcaError(name, message);
