import { LookasideTargetError, parseLookasideTarget } from '../../../client-sdk/lookaside-target';

describe('parseLookasideTarget', () => {
  test('reads one or several LB servers and the service', () => {
    expect(
      parseLookasideTarget({ scheme: 'lookaside', authority: '127.0.0.1:7000', path: 'greeter' }),
    ).toEqual({
      lbServers: ['127.0.0.1:7000'],
      service: 'greeter',
    });
    expect(
      parseLookasideTarget({
        scheme: 'lookaside',
        authority: '127.0.0.1:7000, lb2:7001,[::1]:7002',
        path: 'a.b-c',
      }),
    ).toEqual({ lbServers: ['127.0.0.1:7000', 'lb2:7001', '[::1]:7002'], service: 'a.b-c' });
  });

  test('drops a repeated LB server', () => {
    expect(parseLookasideTarget({ authority: 'a:1,a:1', path: 's' }).lbServers).toEqual(['a:1']);
  });

  test.each([
    // grpc-js reads an authority only when a "/" follows it: these are "lookaside://lb:7100[/]".
    ['lookaside://127.0.0.1:7100', { authority: undefined, path: '//127.0.0.1:7100' }],
    ['lookaside://127.0.0.1:7100/', { authority: undefined, path: '//127.0.0.1:7100/' }],
  ])('says "no service name" for %s, quoting it as written', (written, uri) => {
    expect(() => parseLookasideTarget({ scheme: 'lookaside', ...uri })).toThrow(
      new LookasideTargetError(written, 'no service name (expected lookaside://<lb-host:port>/<service>)'),
    );
  });

  test('quotes the target as written when the LB server is missing', () => {
    expect(() => parseLookasideTarget({ scheme: 'lookaside', authority: '', path: 'greeter' })).toThrow(
      'invalid lookaside target "lookaside:///greeter": no LB server',
    );
  });

  test.each([
    [{ authority: '', path: 'greeter' }, /no LB server/],
    [{ path: 'greeter' }, /no LB server/],
    [{ authority: 'lb', path: 'greeter' }, /LB server "lb"/],
    [{ authority: 'lb:99999', path: 'greeter' }, /LB server "lb:99999"/],
    [{ authority: 'lb:1', path: 'a/b' }, /service name/],
    [{ authority: 'lb:1', path: '' }, /service name is empty/],
  ])('rejects %j with a LookasideTargetError naming the problem', (uri, message) => {
    expect(() => parseLookasideTarget({ scheme: 'lookaside', ...uri })).toThrow(LookasideTargetError);
    expect(() => parseLookasideTarget({ scheme: 'lookaside', ...uri })).toThrow(message);
  });
});
