/**
 * The Middy chain of every function that API Gateway does not call (EventBridge rules, schedules,
 * Lattice targets): Powertools' injectLambdaContext, so every log line of the invocation carries
 * the request id, the function and the cold-start flag, and keys a handler appends are cleared
 * before the next invocation; and the flush of the invocation's metrics (metrics/metrics.ts) as one
 * EMF document. The HTTP functions use the longer chain in http/api.ts.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { logger } from './logger';
import { metricsMiddleware } from './metrics/metrics';

export function lambdaHandler<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  return middy<TEvent, TResult, Error, Context>().use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware()).handler(handler);
}
