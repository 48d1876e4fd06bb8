/**
 * The value of one series on an LB server's GET /metrics (`name{labels}`, labels in the order
 * prom-client prints them), or 0 when the series is absent.
 */
export async function scrapeMetric(metricsAddress: string, series: string): Promise<number> {
  const res = await fetch(`http://${metricsAddress}/metrics`);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}
