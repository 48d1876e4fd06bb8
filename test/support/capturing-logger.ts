import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** One structured log line, parsed. */
export type LogEvent = Readonly<Record<string, unknown>>;

/** A logger to hand to the code under test, and what it wrote. */
export interface CapturedLog {
  readonly logger: Logger;
  /** Every JSON line written so far, in order. */
  readonly lines: string[];
  /** The parsed lines whose `event` field is `name`, in order. */
  events(name: string): LogEvent[];
}

/**
 * A pino logger at level info that keeps its JSON lines (pino writes to the stream synchronously),
 * so a test can wait for an event or check that one never came. Holds no resource: nothing to close.
 */
export function capturingLogger(): CapturedLog {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines,
    events: (name) => lines.map((l): LogEvent => JSON.parse(l) as LogEvent).filter((e) => e.event === name),
  };
}
