/** Prometheus text exposition for the few numbers an operator watches; no client library needed. */

type Labels = Record<string, string | number>;

const key = (labels: Labels): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`)
    .join(',');

class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' = 'counter') {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  set(value: number, labels: Labels = {}): void {
    this.values.set(key(labels), value);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (!this.values.size) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(k ? `${this.name}{${k}} ${v}` : `${this.name} ${v}`);
    return lines.join('\n');
  }
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (value <= b) this.counts[i]!++;
    });
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export function createMetrics() {
  const metrics = {
    connections: new Counter('live_chat_connections', 'Open WebSocket connections.', 'gauge'),
    framesIn: new Counter('live_chat_frames_in_total', 'Frames received, by type (bad frames as "invalid").'),
    framesOut: new Counter('live_chat_frames_out_total', 'Frames sent, by type.'),
    messagesStored: new Counter('live_chat_messages_stored_total', 'Messages stored (retries of a stored message not counted).'),
    errors: new Counter('live_chat_errors_total', 'Error frames sent, by code.'),
    closes: new Counter('live_chat_closes_total', 'Connections closed by the server, by close code.'),
    storeSeconds: new Histogram('live_chat_store_seconds', 'Time to store one message, in seconds.', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
  };
  return {
    ...metrics,
    render: (): string => `${Object.values(metrics).map((m) => m.render()).join('\n')}\n`,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
