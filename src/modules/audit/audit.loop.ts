/**
 * The background loop: chain every `chainIntervalMs` (or at once when woken), checkpoint after
 * `checkpointEvery` new events (but not sooner than `checkpointMinIntervalMs` after the last one)
 * or `checkpointIntervalMs` with new events. Failures are reported
 * and retried on the next tick; they never stop the loop. Timers are unref'd.
 */
export interface LoopOptions {
  chain: () => Promise<number>;
  checkpoint: () => Promise<unknown>;
  checkpointEvery: number;
  checkpointIntervalMs: number;
  /**
   * A checkpoint exports (fsyncs two files and the directory) and signs: under a heavy event
   * rate, `checkpointEvery` alone would do that many times a second, on the disk the database
   * commits to. At most one per this many ms (0: no floor).
   */
  checkpointMinIntervalMs?: number;
  chainIntervalMs: number;
  onError: (err: unknown, what: string) => void;
}

export interface Loop {
  start(): void;
  wake(): void;
  stop(): Promise<void>;
}

export function createLoop(o: LoopOptions): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped = true;
  let current: Promise<void> = Promise.resolve();
  // Unknown at start whether the head moved since the last checkpoint: assume so (a no-op if not).
  let sinceCheckpoint = 1;
  let lastCheckpointAt = performance.now();

  const checkpointDue = () => {
    const since = performance.now() - lastCheckpointAt;
    return (
      (sinceCheckpoint >= o.checkpointEvery && since >= (o.checkpointMinIntervalMs ?? 0)) ||
      (sinceCheckpoint > 0 && since >= o.checkpointIntervalMs)
    );
  };

  const tick = async (): Promise<void> => {
    try {
      sinceCheckpoint += await o.chain();
    } catch (err) {
      o.onError(err, 'audit chaining failed');
    }
    if (!checkpointDue()) return;
    try {
      await o.checkpoint();
      sinceCheckpoint = 0;
      lastCheckpointAt = performance.now();
    } catch (err) {
      o.onError(err, 'audit checkpoint failed');
    }
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, delay);
    timer.unref();
  };

  const run = () => {
    if (running || stopped) return;
    running = true;
    current = tick().finally(() => {
      running = false;
      schedule(o.chainIntervalMs);
    });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    wake() {
      if (!running) schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      try {
        await o.chain();
        await o.checkpoint();
      } catch (err) {
        o.onError(err, 'final audit checkpoint failed');
      }
    },
  };
}
