/**
 * docs/events.md is generated from the event schemas in shared/events/catalog.ts
 * (`npm run docs:events`); test/unit/event-docs.test.ts fails when the two differ.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EVENT_SOURCE, eventSchemas } from '../shared/events/catalog';

export function renderEventDocs(): string {
  const parts = [
    '# Trellis events',
    '',
    '<!-- Generated from shared/events/catalog.ts by `npm run docs:events`; do not edit by hand. -->',
    '',
    `Every event is published on the bus \`trellis-<stage>\` with \`source: "${EVENT_SOURCE}"\` and one of the`,
    'detail-types below. Every `detail` carries `schemaVersion` (a new version is a new, additive contract),',
    'a stable `eventId` (delivery is at least once: dedupe on it) and `occurredAt`.',
    '',
  ];
  for (const [detailType, schema] of Object.entries(eventSchemas)) {
    // `format` already says what the long generated regexes say.
    const json = JSON.parse(JSON.stringify(z.toJSONSchema(schema, { unrepresentable: 'any' }), (key, value: unknown) => (key === 'pattern' ? undefined : value))) as object;
    parts.push(`## ${detailType}`, '');
    if (schema.description) parts.push(schema.description, '');
    parts.push('```json', JSON.stringify(json, null, 2), '```', '');
  }
  return parts.join('\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'events.md'), renderEventDocs());
  console.log('wrote docs/events.md');
}
