/** The outcome of validating untrusted input: the typed value, or the reason it was refused. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };
