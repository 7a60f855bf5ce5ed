/** The local CA's "ACM Private CA CRL Generation" events, put on the local default bus as ACM Private CA sends them to EventBridge. */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { CrlGenerationEvent } from './acm-pca-emulator';

export function crlEventsToBus(busEndpoint: string, region: string): { sink: (event: CrlGenerationEvent) => Promise<void>; destroy(): void } {
  const client = new EventBridgeClient({ endpoint: busEndpoint, region, credentials: { accessKeyId: 'local-acm-pca', secretAccessKey: 'local' }, maxAttempts: 2 });
  return {
    sink: async (event) => {
      const out = await client.send(
        new PutEventsCommand({ Entries: [{ Source: event.source, DetailType: event.detailType, Resources: event.resources, Detail: JSON.stringify(event.detail), EventBusName: 'default' }] }),
      );
      if ((out.FailedEntryCount ?? 0) > 0) throw new Error(`the local bus refused a CRL generation event: ${out.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
    },
    destroy: () => client.destroy(),
  };
}
