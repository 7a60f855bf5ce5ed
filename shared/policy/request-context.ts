/**
 * The request side of IAM policy evaluation: what is being asked, and the condition keys that
 * describe it. Shared by the evaluator and its helpers.
 */

/** One request-context value: a string array is a multi-valued key (e.g. `vpc-lattice-svcs:RequestQueryString/x`). */
export type ContextValue = string | readonly string[] | boolean | number;

export interface EvaluationRequest {
  /** The calling principal's ARN, e.g. `arn:aws:sts::111122223333:assumed-role/<role>/<session>`; {@link ANONYMOUS_PRINCIPAL} for unsigned callers. */
  principal: string;
  /** e.g. `vpc-lattice-svcs:Invoke` */
  action: string;
  /** e.g. `arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/rates` */
  resource: string;
  /** Condition keys; names are matched case-insensitively, as IAM does. */
  context: Readonly<Record<string, ContextValue>>;
}

/** The principal of an unsigned request: only `"Principal": "*"` (or `{"AWS": "*"}`) matches it. */
export const ANONYMOUS_PRINCIPAL = 'anonymous';

/**
 * Case-insensitive lookup of condition keys. The exact spelling is tried first (the common case,
 * no allocation); the lower-cased index is built once per request, only when needed.
 */
export class ContextLookup {
  private lowered: Map<string, ContextValue> | undefined;

  constructor(private readonly context: Readonly<Record<string, ContextValue>>) {}

  get(key: string, keyLower: string): ContextValue | undefined {
    if (Object.prototype.hasOwnProperty.call(this.context, key)) {
      const exact = this.context[key];
      if (exact !== undefined) return exact;
    }
    if (this.lowered === undefined) {
      this.lowered = new Map();
      for (const [name, value] of Object.entries(this.context)) {
        const lower = name.toLowerCase();
        if (value !== undefined && !this.lowered.has(lower)) this.lowered.set(lower, value);
      }
    }
    return this.lowered.get(keyLower);
  }
}

/** A scalar request value as the string IAM compares (booleans as `true`/`false`). */
export const scalarToString = (value: string | boolean | number): string =>
  typeof value === 'string' ? value : String(value);
