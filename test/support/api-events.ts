/** API Gateway REST proxy events as API Gateway (AWS_IAM auth) sends them to the handlers. */
import type { APIGatewayProxyEvent } from 'aws-lambda';

export interface ApiCall {
  method: string;
  resource: string;
  path?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw body string (sent as is); overrides `body`. */
  rawBody?: string;
  /** The IAM caller; undefined = unsigned (local stack only). */
  callerArn?: string;
}

export function apiEvent(call: ApiCall): APIGatewayProxyEvent {
  const body = call.rawBody ?? (call.body === undefined ? null : JSON.stringify(call.body));
  const headers: Record<string, string> = { ...(body !== null && call.rawBody === undefined ? { 'Content-Type': 'application/json' } : {}), ...(call.headers ?? {}) };
  let path = call.resource;
  for (const [k, v] of Object.entries(call.path ?? {})) path = path.replace(`{${k}}`, encodeURIComponent(v));
  return {
    resource: call.resource,
    path,
    httpMethod: call.method,
    headers,
    multiValueHeaders: {},
    queryStringParameters: call.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: call.path ?? null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '111122223333',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: call.method,
      path,
      stage: 'local',
      requestId: `r-${Math.random().toString(16).slice(2)}`,
      requestTimeEpoch: Date.now(),
      resourceId: 'x',
      resourcePath: call.resource,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '127.0.0.1',
        user: null,
        userAgent: 'vitest',
        userArn: call.callerArn ?? null,
      },
    },
  };
}

export interface ApiResult {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export function parseResult(result: unknown): ApiResult {
  const r = result as { statusCode: number; headers?: Record<string, string>; body?: string };
  return { status: r.statusCode, headers: r.headers ?? {}, body: r.body ? (JSON.parse(r.body) as unknown) : undefined };
}
