import type { Etcd3 } from 'etcd3';
import {
  DEFAULT_PREFIX,
  encodeRecordValue,
  recordKey,
  RecordValueSchema,
  type RecordValue,
} from '../../common/registry-record';
import type { ConsoleOverrides, OverrideRequest } from '../../lb-server/frontends/console/console-actions';

/** A bad-input rejection shaped as the real overrides store's (`field`, `reason`). */
class OverrideInputError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * A test-only ConsoleOverrides: instead of an override under its own prefix, it rewrites the
 * instance's own registry record (its `draining` flag and `weight`, same lease), so a drain from
 * the console really moves calls away end to end until the overrides store is wired.
 * clear() undrains. Every request it got is kept in `requests`.
 */
export class RegistryDrainingOverrides implements ConsoleOverrides {
  readonly requests: OverrideRequest[] = [];

  constructor(
    private readonly etcd: Etcd3,
    private readonly prefix: string = DEFAULT_PREFIX,
  ) {}

  async set(req: OverrideRequest): Promise<unknown> {
    this.requests.push(req);
    await this.rewrite(req.service, req.instanceId, (v) => ({
      ...v,
      ...(req.draining !== undefined ? { draining: req.draining } : {}),
      ...(req.weight !== undefined ? { weight: req.weight } : {}),
    }));
    return { ok: true };
  }

  async clear(service: string, instanceId: string): Promise<boolean> {
    await this.rewrite(service, instanceId, (v) => ({ ...v, draining: false }));
    return true;
  }

  private async rewrite(
    service: string,
    instanceId: string,
    change: (value: RecordValue) => RecordValue,
  ): Promise<void> {
    const key = recordKey(this.prefix, service, instanceId);
    const response = await this.etcd.get(key).exec();
    const kv = response.kvs[0];
    if (kv === undefined) throw new OverrideInputError('instanceId', `no record ${key}`);
    const value = RecordValueSchema.parse(JSON.parse(kv.value.toString()));
    const put = this.etcd.put(key).value(encodeRecordValue(change(value)));
    await (kv.lease !== '0' ? put.lease(kv.lease) : put).exec();
  }
}
