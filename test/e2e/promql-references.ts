/** What one PromQL expression refers to: metric names, and label names (with the metric they are matched on). */
export interface PromqlReferences {
  readonly metrics: ReadonlySet<string>;
  /** Labels in selectors: `name{label="…"}`, with their metric (undefined for a bare `{…}`). */
  readonly matched: readonly { metric: string | undefined; label: string }[];
  /** Labels of by/without/on/ignoring/group_left/group_right clauses and label_values(). */
  readonly grouped: ReadonlySet<string>;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset']);
const BINARY = new Set(['and', 'or', 'unless', 'atan2']);

/**
 * The names a PromQL expression (or a Grafana `label_values(metric{…}, label)` variable query) uses,
 * read with a small tokenizer: string literals, ranges and Grafana `$variables` are dropped, a name
 * followed by "(" is a function or aggregation, anything else that is not a keyword is a metric.
 * Enough for hand-written dashboard queries; it does not validate the expression.
 */
export function promqlReferences(expr: string): PromqlReferences {
  let text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""').replace(/\[[^\]]*\]/g, ' ');
  const grouped = new Set<string>();
  const labelValues =
    /\blabel_values\s*\(\s*(?:([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?\s*,\s*)?([a-zA-Z_]\w*)\s*\)/.exec(text);
  if (labelValues) {
    grouped.add(labelValues[3]);
    text = `${labelValues[1] ?? ''}${labelValues[2] ?? ''}`;
  }
  text = text.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_m, _kw, labels: string) => {
      for (const l of labels.split(',')) if (l.trim() !== '') grouped.add(l.trim());
      return ' ';
    },
  );
  const matched: { metric: string | undefined; label: string }[] = [];
  const metrics = new Set<string>();
  text = text.replace(
    /([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g,
    (_m, metric: string | undefined, body: string) => {
      for (const mm of body.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) {
        if (mm[1] === '__name__') continue;
        matched.push({ metric, label: mm[1] });
      }
      if (metric !== undefined) metrics.add(metric);
      return ' ';
    },
  );
  for (const m of text.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const name = m[1];
    if (m[2] !== undefined || KEYWORDS.has(name) || BINARY.has(name)) continue;
    // A digit-led token (0.99, 1e3) never matches; `$x` leftovers are Grafana variables.
    if (text[m.index - 1] === '$') continue;
    metrics.add(name);
  }
  return { metrics, matched, grouped };
}
