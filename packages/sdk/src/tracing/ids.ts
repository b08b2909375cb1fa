import { randomBytes } from 'node:crypto';

// Ids in OpenTelemetry's form, so a call is a span as it is: 16 hex digits per call, 32 per trace.
// Drawn from a pool of random bytes refilled 4 KiB at a time (one syscall per 256 calls).
let pool = randomBytes(4096);
let at = 0;

function hex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  const out = pool.toString('hex', at, at + bytes);
  at += bytes;
  return out;
}

/** A call (span) id: 16 hex digits. */
export function newCallId(): string {
  return hex(8);
}

/** A trace id: 32 hex digits. */
export function newTraceId(): string {
  return hex(16);
}
