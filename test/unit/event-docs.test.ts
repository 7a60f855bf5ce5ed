import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEventDocs } from '../../local/event-docs';
import { eventSchemas, parseDetail, pendingEvent } from '../../shared/events/catalog';

describe('the event catalogue', () => {
  it('docs/events.md is the rendering of shared/events/catalog.ts (run `npm run docs:events`)', () => {
    expect(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'events.md'), 'utf8')).toBe(renderEventDocs());
  });

  it('refuses a detail that breaks its schema, naming the field', () => {
    expect(() => parseDetail('WorkloadDeleted', { schemaVersion: 1, eventId: 'x', occurredAt: 'now' })).toThrow(/eventId/);
    const good = pendingEvent('WorkloadDeleted', { workloadId: 'wl-1', spiffeId: 'spiffe://example.org/a', revision: 2 });
    expect(parseDetail('WorkloadDeleted', JSON.parse(good.detail))).toMatchObject({ schemaVersion: 1, workloadId: 'wl-1' });
    expect(Object.keys(eventSchemas)).toContain('WorkloadRegistered');
  });
});
