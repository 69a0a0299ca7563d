/** Exit codes scripts can rely on. Documented in the README. */
export const EXIT = {
  OK: 0,
  /** The command ran and found a failure (doctor FAIL, verification failed, operation refused). */
  FAILED: 1,
  /** Usage or configuration error: nothing was done. */
  USAGE: 2,
} as const;
