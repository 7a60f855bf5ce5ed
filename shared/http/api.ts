/**
 * The HTTP seam for API Gateway REST (`http` events) handlers: one Middy chain (Powertools context and metrics flush,
 * header and event normalisation, error mapping, body limits and JSON, caller identity) around a
 * table of routes. A route gets an `ApiRequest` and returns an `ApiResponse`; it never builds an
 * error body (it throws a TrellisError, which may carry headers).
 */
import middy from '@middy/core';
import httpEventNormalizer from '@middy/http-event-normalizer';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { TrellisError } from '../errors';
import { logger } from '../logger';
import { metricsMiddleware } from '../metrics/metrics';
import type { Caller } from './caller';
import { callerIdentity, errorMapper, jsonBody, jsonResponse, type TrellisApiEvent } from './middlewares';

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

const strings = (record: Record<string, string | undefined> | null | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(record ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));

function toResult(response: ApiResponse): APIGatewayProxyResult {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  if (response.body === undefined) return { statusCode: response.status, headers, body: '' };
  if (response.contentType) return { statusCode: response.status, headers: { ...headers, 'Content-Type': response.contentType }, body: String(response.body) };
  return jsonResponse(response.status, response.body, headers);
}

/** Builds the Lambda handler for a set of routes keyed `"<METHOD> <resource>"`. */
export function apiHandler(routes: Routes) {
  return middy<TrellisApiEvent, APIGatewayProxyResult, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(metricsMiddleware())
    .use(errorMapper())
    .use(httpHeaderNormalizer())
    .use(httpEventNormalizer())
    .use(jsonBody())
    .use(callerIdentity())
    .handler(async (event, context) => {
      const route = routes[`${event.httpMethod} ${event.resource}`];
      if (!route) throw new TrellisError('RouteNotFound', 404, `No route ${event.httpMethod} ${event.resource}`);
      if (event.caller === undefined) throw new Error('the callerIdentity middleware did not run');
      return toResult(
        await route({
          method: event.httpMethod,
          resource: event.resource,
          params: strings(event.pathParameters),
          query: strings(event.queryStringParameters),
          headers: strings(event.headers),
          body: event.parsedBody,
          caller: event.caller,
          requestId: event.requestContext?.requestId ?? context.awsRequestId,
        }),
      );
    });
}

/** The JSON body, or a 400 when the route needs one and none came. */
export function requireBody(request: ApiRequest): unknown {
  if (request.body === undefined) throw new TrellisError('MissingBody', 400, 'This request needs a JSON body');
  return request.body;
}
