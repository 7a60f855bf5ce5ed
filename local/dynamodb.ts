/** dynalite as the local DynamoDB, with the tables of serverless.yml. */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { closeServer, listen } from './http-server';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

export interface LocalDynamo {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startDynalite(options: { port?: number; host?: string; path?: string; tables: CreateTableCommandInput[]; region: string }): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  const { port, urlHost } = await listen(server, options.port, options.host);
  const endpoint = `http://${urlHost}:${port}`;
  const client = new DynamoDBClient({ endpoint, region: options.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const existing = new Set((await client.send(new ListTablesCommand({}))).TableNames ?? []);
  for (const table of options.tables) {
    if (!existing.has(table.TableName ?? '')) await client.send(new CreateTableCommand(table));
  }
  client.destroy();
  return {
    endpoint,
    stop: () => closeServer(server)
  };
}
