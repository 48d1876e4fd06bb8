import {
  LookasideChannelOptions,
  readLookasideChannelOptions,
} from '../../../client-sdk/lookaside-channel-options';

describe('readLookasideChannelOptions', () => {
  test('defaults when no lookaside option is set', () => {
    expect(readLookasideChannelOptions({ 'grpc.keepalive_time_ms': 1 })).toEqual({
      fallbackAddresses: [],
      startupTimeoutMs: 5000,
      zone: '',
      clientId: undefined,
      reconnectInitialBackoffMs: 1000,
      reconnectMaxBackoffMs: 30_000,
      lbAnswerTimeoutMs: 10_000,
    });
  });

  test('reads fallback addresses as a comma-separated string or an array', () => {
    const o = LookasideChannelOptions.FALLBACK_ADDRESSES;
    expect(readLookasideChannelOptions({ [o]: '127.0.0.1:8181, 127.0.0.1:8282' }).fallbackAddresses).toEqual([
      '127.0.0.1:8181',
      '127.0.0.1:8282',
    ]);
    expect(readLookasideChannelOptions({ [o]: ['a:1'] }).fallbackAddresses).toEqual(['a:1']);
  });

  test('rejects a bad value with a RangeError naming the option', () => {
    expect(() => readLookasideChannelOptions({ [LookasideChannelOptions.FALLBACK_ADDRESSES]: 'x' })).toThrow(
      /"lookaside.fallback_addresses"/,
    );
    expect(() => readLookasideChannelOptions({ [LookasideChannelOptions.STARTUP_TIMEOUT_MS]: '5' })).toThrow(
      /"lookaside.startup_timeout_ms"/,
    );
  });

  test('keeps the largest backoff at least the first', () => {
    const s = readLookasideChannelOptions({
      [LookasideChannelOptions.RECONNECT_INITIAL_BACKOFF_MS]: 5000,
      [LookasideChannelOptions.RECONNECT_MAX_BACKOFF_MS]: 100,
    });
    expect(s.reconnectMaxBackoffMs).toBe(5000);
  });
});
