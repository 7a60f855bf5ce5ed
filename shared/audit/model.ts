/** One event as the audit trail keeps it (the audit table's item, without its TTL). */
export interface AuditEntry {
  eventId: string;
  detailType: string;
  /** The event's time (EventBridge `time`), ISO 8601. */
  time: string;
  detail: Record<string, unknown>;
}
