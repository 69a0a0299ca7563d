/**
 * Posture and audit-streaming metrics: each control's status (0 pass, 1 warn, 2 fail), a counter
 * of changes to fail, and each SIEM sink's lag in events (read when scraped).
 */
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from './metrics.ts';
import type { PostureWiring } from './posture-wiring.ts';

const LEVEL = { pass: 0, warn: 1, fail: 2 } as const;

export function observePosture(metrics: Metrics, wiring: Pick<PostureWiring, 'posture' | 'streamer'>): void {
  const status = new Gauge({
    name: 'strongroom_posture_control_status',
    help: 'Latest result of each security control of the installation: 0 pass, 1 warn, 2 fail',
    labelNames: ['control'] as const,
    registers: [metrics.registry],
  });
  const failures = new Counter({
    name: 'strongroom_posture_control_failures_total',
    help: 'Times a control of the installation changed to fail',
    labelNames: ['control'] as const,
    registers: [metrics.registry],
  });
  const last = new Map<string, number>();
  wiring.posture.onResult((scope, control, s) => {
    if (scope !== '') return; // workspace ids stay out of label values
    if (s === 'fail' && last.get(control) !== LEVEL.fail) failures.inc({ control });
    last.set(control, LEVEL[s]);
    status.set({ control }, LEVEL[s]);
  });
  const streamer = wiring.streamer;
  if (!streamer) return;
  new Gauge({
    name: 'strongroom_audit_sink_lag_events',
    help: 'Chained audit events not yet delivered to each SIEM sink',
    labelNames: ['sink'] as const,
    registers: [metrics.registry],
    async collect() {
      for (const l of await streamer.lag()) this.set({ sink: l.sink }, l.lagEvents);
    },
  });
}
