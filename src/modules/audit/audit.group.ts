/**
 * Group commit for events recorded on their own (outside a caller's transaction): drafts handed
 * in while a write is under way are written together by the next one, as ONE multi-row INSERT
 * committed on its own. Each caller's promise settles only after the statement holding its draft
 * has committed (resolve) or failed (reject): an event is never reported recorded before it is,
 * and a failed write fails every caller in it — none proceeds unrecorded.
 *
 * One write at a time, started on the next turn of the event loop (`setImmediate`), so drafts
 * handed in by requests handled in the same turn share it; under load the queue also grows while
 * a write is under way. A busy server thus does one round trip for many events instead of one
 * each; an idle one writes after one loop turn.
 */
export interface GroupWriter {
  /** Resolves once `json` is committed; rejects with the write's error. */
  write(json: string): Promise<void>;
}

interface Waiter {
  json: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** `insert` writes all of its drafts in one statement (or throws); at most `maxBatch` per call. */
export function createGroupWriter(insert: (jsons: string[]) => Promise<void>, maxBatch = 1000): GroupWriter {
  let queue: Waiter[] = [];
  let writing = false;

  async function drain(): Promise<void> {
    writing = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await insert(batch.map((w) => w.json));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    writing = false;
  }

  return {
    write(json) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ json, resolve, reject });
        if (!writing) {
          writing = true;
          setImmediate(() => void drain());
        }
      });
    },
  };
}
