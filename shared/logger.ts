import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs (Powertools). One logger per process, named after the function. */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'trellis',
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'INFO') as 'INFO',
});
