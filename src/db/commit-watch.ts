/**
 * Commit watch: tells in-process listeners, right after a COMMIT (or an autocommitted statement)
 * that wrote to tables they care about, that it happened — before the code that committed goes
 * on. The identity module uses it so that a session revoked by a request on this server stops
 * working for the very next request here, without waiting for its own `NOTIFY` to come back
 * (see src/modules/identity/identity.session-cache.ts).
 *
 * Conservative: a statement counts as a write to a table when it starts with
 * insert/update/delete/with/merge and names the table anywhere; a watcher may be told about a
 * commit that did not change anything it holds (harmless: it drops a cache), never the opposite
 * for statements sent through the database handle.
 */
const WRITE = /^\s*(insert|update|delete|with|merge)\b/i;
const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
export const COMMIT = /^\s*(commit|end)\s*;?\s*$/i;
export const ROLLBACK = /^\s*(rollback|abort)\s*;?\s*$/i;

interface Watcher {
  tables: RegExp;
  fire: () => void;
}

export class CommitWatch {
  private readonly watchers: Watcher[] = [];
  /** text → the watchers it concerns (bounded cache of the classification). */
  private readonly known = new Map<string, readonly Watcher[]>();

  /** `fire` after any commit that wrote to a table whose name `tables` matches. Returns a remover. */
  add(tables: RegExp, fire: () => void): () => void {
    const w = { tables, fire };
    this.watchers.push(w);
    this.known.clear();
    return () => {
      const i = this.watchers.indexOf(w);
      if (i >= 0) this.watchers.splice(i, 1);
      this.known.clear();
    };
  }

  private concerned(text: string): readonly Watcher[] {
    let c = this.known.get(text);
    if (c === undefined) {
      c = WRITE.test(text) ? this.watchers.filter((w) => w.tables.test(text)) : [];
      if (this.known.size < 4096) this.known.set(text, c);
    }
    return c;
  }

  /** One connection's view: call `before` as a statement is sent, `after` once it succeeded. */
  connection(): { before(text: string): void; after(text: string): void } {
    let inTx = false;
    let pending: Set<Watcher> | undefined;
    return {
      before: (text) => {
        if (this.watchers.length === 0) return;
        if (BEGIN.test(text)) {
          inTx = true;
          pending = undefined;
        } else if (ROLLBACK.test(text)) {
          inTx = false;
          pending = undefined;
        }
      },
      after: (text) => {
        if (this.watchers.length === 0) return;
        if (COMMIT.test(text)) {
          const fire = pending;
          inTx = false;
          pending = undefined;
          for (const w of fire ?? []) w.fire();
          return;
        }
        const c = this.concerned(text);
        if (c.length === 0) return;
        if (inTx) for (const w of c) (pending ??= new Set()).add(w);
        else for (const w of c) w.fire();
      },
    };
  }
}
