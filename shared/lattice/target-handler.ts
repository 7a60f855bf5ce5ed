/**
 * The Lambda handler behind a VPC Lattice target group (Billing, Rates): parse the event, log the caller's
 * identity claims as ONE structured JSON line, answer. Refuses (never throws):
 *   400 for anything that is not a Lattice event, 403 when Lattice vouches for no authenticated caller.
 */
import type { Context } from 'aws-lambda';
import { logger } from '../logger';
import {
  isAuthenticatedCaller,
  jsonResponse,
  parseLatticeEvent,
  type CallerIdentity,
  type LatticeEventVersion,
  type LatticeRequest,
  type LatticeResponse,
} from './target-event';

export interface TargetHandlerOptions {
  /** Machine name, e.g. 'billing'; logged as `targetService`. */
  serviceName: string;
  /** Name in the greeting, e.g. 'Billing' → "HelloWorld from Billing Lambda". */
  displayName: string;
}

export type LatticeTargetHandler = (event: unknown, context?: Context) => Promise<LatticeResponse>;

export const FORBIDDEN_MESSAGE = 'Forbidden: no authenticated caller identity';
export const BAD_REQUEST_MESSAGE = 'Bad Request: not a VPC Lattice event';
export const INTERNAL_ERROR_MESSAGE = 'Internal Server Error';

export const CALLER_IDENTITY_LOG = 'caller identity';
export const NO_CALLER_IDENTITY_LOG = 'no authenticated caller identity';
export const MALFORMED_EVENT_LOG = 'malformed VPC Lattice event';

/** Keeps one hostile event from turning into a huge log line. */
const MAX_LOGGED_ISSUES = 20;

/**
 * The fields of the per-request log line. The target is logged as `targetService` because Powertools
 * reserves `service` (its own serviceName) and would drop a `service` key with a warning line.
 */
export interface CallerLogFields {
  targetService: string;
  method: string;
  path: string;
  eventVersion: LatticeEventVersion;
  requestTime?: string;
  identity: CallerIdentity;
}

export function callerLogFields(serviceName: string, request: LatticeRequest): CallerLogFields {
  return {
    targetService: serviceName,
    method: request.method,
    path: request.path,
    eventVersion: request.eventVersion,
    ...(request.requestTime === undefined ? {} : { requestTime: request.requestTime.toISOString() }),
    identity: request.identity,
  };
}

/** The answer to a well-formed request: the greeting with the caller's claims, or 403 without a caller. */
export function answerTargetRequest(request: LatticeRequest, displayName: string): LatticeResponse {
  if (!isAuthenticatedCaller(request.identity)) return jsonResponse(403, { message: FORBIDDEN_MESSAGE });
  return jsonResponse(200, { message: `HelloWorld from ${displayName} Lambda`, identity: request.identity });
}

export function createTargetHandler(options: TargetHandlerOptions): LatticeTargetHandler {
  const { serviceName, displayName } = options;
  return async (event, context) => {
    try {
      if (context !== undefined) logger.addContext(context);
      const parsed = parseLatticeEvent(event);
      if (!parsed.ok) {
        logger.warn(MALFORMED_EVENT_LOG, { targetService: serviceName, issues: parsed.issues.slice(0, MAX_LOGGED_ISSUES) });
        return jsonResponse(400, { message: BAD_REQUEST_MESSAGE });
      }
      const fields = callerLogFields(serviceName, parsed.request);
      if (isAuthenticatedCaller(parsed.request.identity)) logger.info(CALLER_IDENTITY_LOG, { ...fields });
      else logger.warn(NO_CALLER_IDENTITY_LOG, { ...fields });
      return answerTargetRequest(parsed.request, displayName);
    } catch (error) {
      try {
        logger.error('lattice target failed', { targetService: serviceName, error });
      } catch {
        // Logging must not turn a 500 into a thrown invocation error (Lattice would answer 5xx anyway).
      }
      return jsonResponse(500, { message: INTERNAL_ERROR_MESSAGE });
    }
  };
}
