import type { Assignment } from '../assignment/assignment';

/**
 * Memoizes `build` per Assignment object: every stream of one group is written the same response
 * object (encoded once, see withSharedSerialization), built once per assignment whatever the
 * number of streams. Held weakly: a superseded assignment and its response are collected. Each
 * frontend makes one for its own translation.
 */
export function perAssignment<T>(build: (assignment: Assignment) => T): (assignment: Assignment) => T {
  const cache = new WeakMap<Assignment, T>();
  return (assignment) => {
    let value = cache.get(assignment);
    if (value === undefined) {
      value = build(assignment);
      cache.set(assignment, value);
    }
    return value;
  };
}
