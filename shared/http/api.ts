/**
 * The HTTP seam for API Gateway REST (`http` events) handlers: a Middy chain that turns the
 * proxy event into an `ApiRequest` (body limits, content type, JSON, caller identity), runs the
 * route, and maps every outcome — including every error — to a JSON response in one place.
 * A handler never throws past this chain (serverless-offline would turn that into a 502/200).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { TrellisError } from '../errors';
import { logger } from '../logger';
import { resolveCaller, type Caller } from './caller';

export const MAX_BODY_BYTES = 64 * 1024;

export interface ApiRequest {
  method: string;
  /** The route template, e.g. /workloads/{id}. */
  resource: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The parsed JSON body, or undefined when the request had none. */
  body: unknown;
  caller: Caller;
  requestId: string;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send `body` as is (a string) with this content type instead of JSON. */
  contentType?: string;
}

export type Route = (request: ApiRequest) => Promise<ApiResponse>;
export type Routes = Record<string, Route>;

const lowerCaseHeaders = (headers: APIGatewayProxyEvent['headers'] | null): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (typeof v === 'string') out[k.toLowerCase()] = v;
  return out;
};

function parseBody(event: APIGatewayProxyEvent, headers: Record<string, string>): unknown {
  if (event.body === null || event.body === undefined || event.body === '') return undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > MAX_BODY_BYTES) {
    throw new TrellisError('PayloadTooLarge', 413, `The request body is ${raw.byteLength} bytes; the limit is ${MAX_BODY_BYTES} bytes (64 KiB)`);
  }
  const contentType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') {
    throw new TrellisError('UnsupportedMediaType', 415, `The request body must be JSON with "Content-Type: application/json" (got ${contentType ? `"${contentType}"` : 'none'})`);
  }
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (error) {
    throw new TrellisError('MalformedJson', 400, `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function jsonResponse(response: ApiResponse): APIGatewayProxyResult {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  if (response.body === undefined) return { statusCode: response.status, headers, body: '' };
  if (response.contentType) {
    headers['Content-Type'] = response.contentType;
    return { statusCode: response.status, headers, body: String(response.body) };
  }
  headers['Content-Type'] = 'application/json';
  return { statusCode: response.status, headers, body: JSON.stringify(response.body) };
}

export function errorResponse(error: unknown, requestId: string): APIGatewayProxyResult {
  if (error instanceof TrellisError) {
    if (error.status >= 500) logger.error('request failed', { code: error.code, error });
    else logger.info('request refused', { code: error.code, status: error.status, reason: error.message });
    const body: { code: string; message: string; details?: unknown } = { code: error.code, message: error.message };
    if (error.details) body.details = error.details;
    return jsonResponse({ status: error.status, body: { error: body } });
  }
  logger.error('unhandled error', { error: error instanceof Error ? error : String(error) });
  return jsonResponse({ status: 500, body: { error: { code: 'InternalError', message: `Internal error; quote request id ${requestId} when reporting it` } } });
}

/** Builds the Lambda handler for a set of routes keyed `"<METHOD> <resource>"`. */
export function apiHandler(routes: Routes) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event, context) => {
      const requestId = event.requestContext?.requestId ?? context.awsRequestId;
      try {
        const route = routes[`${event.httpMethod} ${event.resource}`];
        if (!route) throw new TrellisError('RouteNotFound', 404, `No route ${event.httpMethod} ${event.resource}`);
        const headers = lowerCaseHeaders(event.headers);
        const request: ApiRequest = {
          method: event.httpMethod,
          resource: event.resource,
          params: Object.fromEntries(Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')),
          query: Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')),
          headers,
          body: parseBody(event, headers),
          caller: resolveCaller(event),
          requestId,
        };
        return jsonResponse(await route(request));
      } catch (error) {
        return errorResponse(error, requestId);
      }
    });
}

/** The JSON body, or a 400 when the route needs one and none came. */
export function requireBody(request: ApiRequest): unknown {
  if (request.body === undefined) throw new TrellisError('MissingBody', 400, 'This request needs a JSON body');
  return request.body;
}
