import type { Assignment } from '../../lb-server/assignment/assignment';
import { NO_SIGNALS, type EndpointSignals } from '../../lb-server/assignment/assignment-signals';
import { AssignmentStage } from '../../lb-server/assignment/assignment-stage';
import type { ServiceView } from '../../lb-server/core/registry-state';

/** The service-wide assignment the stage makes of `view` (at the view's version), for unit tests. */
export function assignmentOf(view: ServiceView, signals: EndpointSignals = NO_SIGNALS): Assignment {
  return new AssignmentStage().assess(view, signals, view.version);
}
