import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type PendingEvent } from './catalog';
import { TrellisError } from '../errors';

/** The narrow seam to the bus: publish these events or throw. */
export interface EventPublisher {
  publish(events: readonly PendingEvent[]): Promise<void>;
}

const MAX_ENTRIES_PER_CALL = 10;

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly PendingEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += MAX_ENTRIES_PER_CALL) {
      const batch = events.slice(i, i + MAX_ENTRIES_PER_CALL);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: batch.map((e) => ({
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: e.detailType,
            Detail: e.detail,
          })),
        }),
      );
      if ((out.FailedEntryCount ?? 0) > 0) {
        const failed = (out.Entries ?? []).filter((e) => e.ErrorCode).map((e) => `${e.ErrorCode}: ${e.ErrorMessage}`);
        throw new TrellisError('EventPublishFailed', 503, `EventBridge refused ${out.FailedEntryCount} event(s): ${failed.join('; ')}`);
      }
    }
  }
}
