/**
 * The part of js-yaml 4 the tests use (the package ships no types, and @types/js-yaml is not
 * installed): YAML 1.2 documents to plain values. Throws YAMLException on a syntax error.
 */
declare module 'js-yaml' {
  export function load(text: string, options?: { filename?: string }): unknown;
  export function loadAll(text: string, iterator?: null, options?: { filename?: string }): unknown[];
}
