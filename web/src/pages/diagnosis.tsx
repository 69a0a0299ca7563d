/** A drive test's diagnosis: every step with pass/fail, its reason and hint, and the CORS JSON to copy. */
import { useState } from 'react';
import type { Diagnosis } from '../../../src/contracts/index.ts';
import { Badge, Notice, ui } from '../ui/components.tsx';
import css from './drives.module.css';

const MARK = { pass: '✓', fail: '✗', warn: '!', skip: '–' } as const;
const KIND = { pass: 'good', fail: 'bad', warn: 'warn', skip: undefined } as const;

export function DiagnosisView({ report }: { report: Diagnosis }) {
  const [copied, setCopied] = useState(false);
  const cors = report.corsSuggestion === undefined ? undefined : JSON.stringify(report.corsSuggestion, null, 2);
  return (
    <div data-testid="diagnosis">
      {report.ok ? (
        <Notice kind="ok" title="Test passed">
          Strongroom can reach the storage and list, write, read and delete there
          {report.latencyMs !== undefined ? ` (about ${Math.round(report.latencyMs)} ms per request)` : ''}.
        </Notice>
      ) : (
        <Notice kind="error" title={`Test failed: ${report.code ?? 'see the steps below'}`}>
          The first failing step below says what went wrong and how to fix it.
        </Notice>
      )}
      <ol className={css.steps}>
        {report.steps.map((st) => (
          <li key={st.id} className={css.step} data-status={st.status}>
            <span className={`${css.mark} ${css[st.status]}`} aria-hidden="true">
              {MARK[st.status]}
            </span>
            <div>
              <div className={ui.row}>
                <strong>{st.title}</strong> <Badge kind={KIND[st.status]}>{st.status}</Badge>
                {st.ms !== undefined ? <span className={ui.muted}>{Math.round(st.ms)} ms</span> : null}
              </div>
              <div>{st.reason}</div>
              {st.hint ? <div className={css.hint}>Hint: {st.hint}</div> : null}
            </div>
          </li>
        ))}
      </ol>
      {cors ? (
        <div>
          <div className={ui.spread}>
            <h3>CORS rule for browser uploads</h3>
            <button
              type="button"
              className={`${ui.button} ${ui.small}`}
              onClick={() => {
                void navigator.clipboard?.writeText(cors).then(
                  () => setCopied(true),
                  () => setCopied(false),
                );
              }}
            >
              {copied ? 'Copied' : 'Copy JSON'}
            </button>
          </div>
          <p className={ui.help}>Paste this into the bucket's CORS settings in the provider's console.</p>
          <pre className={ui.code} data-testid="cors-json">
            {cors}
          </pre>
        </div>
      ) : null}
    </div>
  );
}
