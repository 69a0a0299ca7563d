/**
 * The audit event draft every audit bench writes: one writer's i-th secret read, the same size
 * and shape in each bench so their figures compare.
 */
export function benchDraft(w: number, i: number) {
  return {
    actor: { id: `usr_${w}`, kind: 'user' as const, authMethod: 'password' },
    action: 'vault.secret.read',
    resource: { type: 'secret', id: `sec_${w}_${i}`, workspace: 'ws_main' },
    outcome: 'success' as const,
    requestId: `req-${w}-${i}`,
    sourceIp: '192.0.2.10',
    userAgent: 'bench/1.0',
    details: { writer: w, i, note: 'x'.repeat(40) },
  };
}

/** The same draft as a stored event's input, with its time. */
export const timedBenchDraft = (w: number, i: number, time: string) => ({ time, ...benchDraft(w, i) });
