import { Writable } from 'node:stream';
import pino from 'pino';
import type { InstallLookasideOptions } from '../../../client-sdk';
import type { RegisterServiceOptions } from '../../../registrar';
import type { EventLogger } from '../../../common/event-logger';

describe('EventLogger', () => {
  it('a pino Logger is one (the type-check compiles these assignments) and writes our events as JSON fields', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8').trim());
        done();
      },
    });
    const logger: EventLogger = pino({ level: 'debug' }, stream);
    const sdk: InstallLookasideOptions = { logger: pino({ level: 'silent' }) };
    const registrar: Pick<RegisterServiceOptions, 'logger'> = { logger: pino({ level: 'silent' }) };
    logger.warn({ event: 'lb_stream_broken', service: 'greeter' });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 40, event: 'lb_stream_broken', service: 'greeter' }),
    ]);
    expect([sdk.logger, registrar.logger].every((l) => typeof l?.info === 'function')).toBe(true);
  });
});
