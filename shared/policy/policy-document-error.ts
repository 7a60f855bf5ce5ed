/**
 * A policy document the evaluator cannot interpret: malformed JSON, a missing element, an
 * unknown or unsupported condition operator. The local Lattice control plane can turn it into a
 * ValidationException at PutAuthPolicy; the data plane treats it as a deny.
 */
export class PolicyDocumentError extends Error {
  /** Where in the document, e.g. `Statement[1].Condition.StringEqualz`. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(`${path === '' ? 'policy' : path}: ${message}`);
    this.name = 'PolicyDocumentError';
    this.path = path;
  }
}
