/** Timestamps: ISO 8601 UTC with second precision, e.g. `2026-01-15T10:30:00Z`. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function addSeconds(ms: number, seconds: number): number {
  return ms + seconds * 1000;
}

/** `YYYY-MM-DD` of the instant, in UTC. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
