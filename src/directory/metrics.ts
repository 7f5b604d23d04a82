// Prometheus metrics in the text exposition format (version 0.0.4), hand-rolled.
// Contract: counters and gauges keyed by a fixed label set; one latency
// histogram per route; render() returns the whole page. Label values are
// escaped; route labels are route patterns (bounded cardinality), never raw URLs.
const BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string>) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

export class Metrics {
  private readonly requests = new Map<string, { l: Record<string, string>; n: number }>();
  private readonly latency = new Map<string, { counts: number[]; sum: number; n: number }>();
  private readonly counters = new Map<string, { help: string; n: number }>();
  private readonly gauges = new Map<string, { help: string; read: () => number; type: 'gauge' | 'counter' }>();

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    const r = this.requests.get(key);
    if (r) r.n++;
    else this.requests.set(key, { l: { method, route, status: String(status) }, n: 1 });
    let h = this.latency.get(route);
    if (!h) { h = { counts: BUCKETS_S.map(() => 0), sum: 0, n: 0 }; this.latency.set(route, h); }
    for (let i = 0; i < BUCKETS_S.length; i++) if (seconds <= BUCKETS_S[i]) h.counts[i]++;
    h.sum += seconds; h.n++;
  }

  count(name: string, help: string, by = 1): void {
    const c = this.counters.get(name) ?? { help, n: 0 };
    c.n += by; this.counters.set(name, c);
  }

  gauge(name: string, help: string, read: () => number): void { this.gauges.set(name, { help, read, type: 'gauge' }); }

  /** A counter kept elsewhere (read at render time); must only grow. */
  counterFrom(name: string, help: string, read: () => number): void { this.gauges.set(name, { help, read, type: 'counter' }); }

  render(): string {
    const out: string[] = [];
    out.push('# HELP tincan_http_requests_total HTTP requests by method, route and status.', '# TYPE tincan_http_requests_total counter');
    for (const { l, n } of this.requests.values()) out.push(`tincan_http_requests_total${labels(l)} ${n}`);
    out.push('# HELP tincan_http_request_duration_seconds HTTP request latency by route.', '# TYPE tincan_http_request_duration_seconds histogram');
    for (const [route, h] of this.latency) {
      BUCKETS_S.forEach((b, i) => out.push(`tincan_http_request_duration_seconds_bucket${labels({ route, le: String(b) })} ${h.counts[i]}`));
      out.push(`tincan_http_request_duration_seconds_bucket${labels({ route, le: '+Inf' })} ${h.n}`);
      out.push(`tincan_http_request_duration_seconds_sum${labels({ route })} ${h.sum}`);
      out.push(`tincan_http_request_duration_seconds_count${labels({ route })} ${h.n}`);
    }
    for (const [name, c] of this.counters) out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`, `${name} ${c.n}`);
    for (const [name, g] of this.gauges) out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} ${g.type}`, `${name} ${g.read()}`);
    return out.join('\n') + '\n';
  }
}
