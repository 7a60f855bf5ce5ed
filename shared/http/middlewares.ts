/**
 * The Middy middlewares of the HTTP chain that no well-kept Middy package provides with Trellis's
 * error contract: @middy/http-json-body-parser answers a bad body with plain-text 415/422 errors
 * and has no size limit, and @middy/http-error-handler writes plain-text bodies; the API's
 * contract is `{"error":{"code","message","details?"}}` with 413/415/400 and stable codes.
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { TrellisError } from '../errors';
import { logger } from '../logger';
import { resolveCaller, type Caller } from './caller';

export const MAX_BODY_BYTES = 64 * 1024;

/** The API Gateway event once the chain has read it: the parsed JSON body and the caller. */
export type TrellisApiEvent = APIGatewayProxyEvent & { parsedBody?: unknown; caller?: Caller };

type Middleware = middy.MiddlewareObj<TrellisApiEvent, APIGatewayProxyResult, Error, Context>;

/** Body limits and JSON parsing: 413 over 64 KiB, 415 when not JSON, 400 when the JSON is malformed. */
export function jsonBody(maxBytes = MAX_BODY_BYTES): Middleware {
  return {
    before: (request) => {
      const { event } = request;
      if (event.body === null || event.body === undefined || event.body === '') return;
      const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
      if (raw.byteLength > maxBytes) {
        throw new TrellisError('PayloadTooLarge', 413, `The request body is ${raw.byteLength} bytes; the limit is ${maxBytes} bytes (64 KiB)`);
      }
      const contentType = (event.headers?.['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (contentType !== 'application/json') {
        throw new TrellisError('UnsupportedMediaType', 415, `The request body must be JSON with "Content-Type: application/json" (got ${contentType ? `"${contentType}"` : 'none'})`);
      }
      try {
        event.parsedBody = JSON.parse(raw.toString('utf8')) as unknown;
      } catch (error) {
        throw new TrellisError('MalformedJson', 400, `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
}

/** Who is calling (shared/http/caller.ts decides, in one place). */
export function callerIdentity(): Middleware {
  return {
    before: (request) => {
      request.event.caller = resolveCaller(request.event);
    },
  };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode: status, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * Every failure becomes a JSON error response here, and only here: a TrellisError with its status,
 * code, message, details and headers; anything else a 500 that names the request id and leaks no
 * internals. A handler never throws past this (serverless-offline would answer 502 or 200).
 */
export function errorMapper(): Middleware {
  return {
    onError: (request) => {
      const { error } = request;
      const requestId = request.event.requestContext?.requestId ?? request.context.awsRequestId;
      if (error instanceof TrellisError) {
        if (error.status >= 500) logger.error('request failed', { code: error.code, error });
        else logger.info('request refused', { code: error.code, status: error.status, reason: error.message });
        const body: { code: string; message: string; details?: unknown } = { code: error.code, message: error.message };
        if (error.details) body.details = error.details;
        request.response = jsonResponse(error.status, { error: body }, error.headers);
        return;
      }
      logger.error('unhandled error', { error: error instanceof Error ? error : String(error) });
      request.response = jsonResponse(500, { error: { code: 'InternalError', message: `Internal error; quote request id ${requestId} when reporting it` } });
    },
  };
}
