// Analytics: one `events` row per event of every source topic. columns.ts is the contract with the sink.
export * from './columns.ts';
export { createAnalytics, eventsRow, fieldsOf } from './analytics.ts';
