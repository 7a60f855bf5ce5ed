import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logs, one logger per process. Powertools reads its own settings from the
 * environment serverless.yml sets: POWERTOOLS_SERVICE_NAME (the function) and
 * POWERTOOLS_LOG_LEVEL (or AWS_LAMBDA_LOG_LEVEL when Lambda's advanced logging controls are on).
 */
export const logger = new Logger();
