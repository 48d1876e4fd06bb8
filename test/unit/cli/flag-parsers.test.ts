import { InvalidArgumentError } from 'commander';
import {
  duration,
  hostPort,
  instanceId,
  hostPortList,
  integerIn,
  listenAddress,
  onOff,
  panicFraction,
  serviceName,
  urlList,
} from '../../../cli/flag-parsers';

describe('flag parsers', () => {
  it('accept good values', () => {
    expect(hostPort('127.0.0.1:7000')).toBe('127.0.0.1:7000');
    expect(listenAddress('127.0.0.1:0')).toBe('127.0.0.1:0');
    expect(listenAddress('[::1]:7000')).toBe('[::1]:7000');
    expect(hostPortList('a:1, b:2')).toEqual(['a:1', 'b:2']);
    expect(urlList('http://127.0.0.1:2379,https://e2:2379')).toEqual([
      'http://127.0.0.1:2379',
      'https://e2:2379',
    ]);
    expect(integerIn(1, 10)('7')).toBe(7);
    expect(serviceName('helloworld.Greeter')).toBe('helloworld.Greeter');
  });

  it.each([
    ['hostPort', () => hostPort('127.0.0.1'), /no port/],
    ['hostPort port 0', () => hostPort('127.0.0.1:0'), /outside/],
    ['listenAddress', () => listenAddress('::1:7000'), /brackets/],
    ['hostPortList empty', () => hostPortList(' , '), /at least one/],
    ['urlList scheme', () => urlList('127.0.0.1:2379'), /http/],
    ['urlList garbage', () => urlList('http://'), /not a URL/],
    ['integer text', () => integerIn(1, 10)('ten'), /integer/],
    ['integer range', () => integerIn(1, 10)('11'), /at most 10/],
    ['integer fraction', () => integerIn(1, 10)('1.5'), /integer/],
    ['service name', () => serviceName('a/b'), /service name/],
  ])('reject a bad %s with a reason commander shows', (_n, f, reason) => {
    expect(f).toThrow(InvalidArgumentError);
    expect(f).toThrow(reason);
  });

  it('read on/off switches and a panic fraction that may be 0, refusing anything else', () => {
    expect([onOff('on'), onOff('OFF'), onOff('true'), onOff('0')]).toEqual([true, false, true, false]);
    expect(() => onOff('maybe')).toThrow(/expected "on" or "off"/);
    expect([panicFraction('0'), panicFraction('0.5'), panicFraction('1')]).toEqual([0, 0.5, 1]);
    expect(() => panicFraction('1.5')).toThrow(InvalidArgumentError);
    expect(() => panicFraction('-0.1')).toThrow(InvalidArgumentError);
  });

  it('read durations like 30s, 10m, 2h, 1h30m in milliseconds', () => {
    const d = duration(86_400_000);
    expect([d('30s'), d('10m'), d('2h'), d('1h30m'), d('500ms'), d('1d')]).toEqual([
      30_000, 600_000, 7_200_000, 5_400_000, 500, 86_400_000,
    ]);
  });

  it.each(['', '10', '1.5h', '-1s', '10 m', 'm', '2w', '0s', '2d'])('reject the duration %j', (v) => {
    expect(() => duration(86_400_000)(v)).toThrow(InvalidArgumentError);
  });

  it('name why a duration is refused', () => {
    expect(() => duration(86_400_000)('soon')).toThrow(/expected a duration such as 30s, 10m, 2h/);
    expect(() => duration(86_400_000)('0m')).toThrow(/longer than 0/);
    expect(() => duration(86_400_000)('25h')).toThrow(/at most 1 days/);
    expect(instanceId('i-1')).toBe('i-1');
    expect(() => instanceId('a/b')).toThrow(/printable ASCII/);
  });
});
