import { InvalidArgumentError } from 'commander';
import {
  hostPort,
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
});
