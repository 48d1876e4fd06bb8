import type { Assignment } from '../../lb-server/assignment/assignment';
import { NO_SIGNALS, type EndpointSignals } from '../../lb-server/assignment/assignment-signals';
import { AssignmentStage } from '../../lb-server/assignment/assignment-stage';
import { RegistryState, type ServiceView } from '../../lb-server/core/registry-state';
import {
  DEFAULT_PREFIX,
  encodeRecordValue,
  recordKey,
  type RecordValueInput,
} from '../../common/registry-record';

/** The service-wide assignment the stage makes of `view` (at the view's version), for unit tests. */
export function assignmentOf(view: ServiceView, signals: EndpointSignals = NO_SIGNALS): Assignment {
  return new AssignmentStage().assess(view, signals, view.version);
}

/** The registry's view of service "greeter" holding `records` (revisions 10, 11, …), for unit tests. */
export function greeterView(records: { id: string; value: RecordValueInput }[]): ServiceView {
  const state = new RegistryState(DEFAULT_PREFIX);
  state.replaceAll(
    records.map((r, i) => ({
      key: recordKey(DEFAULT_PREFIX, 'greeter', r.id),
      value: encodeRecordValue(r.value),
      modRevision: 10 + i,
      lease: '0',
    })),
    20,
  );
  return state.service('greeter');
}
