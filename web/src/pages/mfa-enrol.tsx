/**
 * MFA enrolment: scan the QR code (drawn on a canvas, so no image URL is needed) or type the
 * secret, confirm with a code, keep the recovery codes. Owners and admins must do this before
 * anything else; others may do it from their account page.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import { api } from '../lib/api.ts';
import { navigate } from '../lib/router.tsx';
import { useSession } from '../lib/session.tsx';
import { CopyButton, Field, FieldErrors, Notice, Problem, downloadText, ui } from '../ui/components.tsx';
import css from './signin.module.css';

/** "JBSWY3DPEHPK3PXP" → "JBSW Y3DP EHPK 3PXP": easier to read out and type by hand. */
export const groupsOfFour = (secret: string) => secret.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');

/** The recovery codes once, with copy, download and an "I have saved them" step before going on. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [saved, setSaved] = useState(false);
  const text = `Strongroom recovery codes (each signs you in once; keep them private)\n\n${codes.join('\n')}\n`;
  return (
    <div>
      <Notice kind="ok" title="Multi-factor authentication is on">
        Keep these recovery codes somewhere safe, such as a password manager: each signs you in once if you lose your
        authenticator. They are not shown again.
      </Notice>
      <div className={css.codes} data-testid="recovery-codes">
        {codes.map((c) => (
          <div key={c}>{c}</div>
        ))}
      </div>
      <div className={ui.row} style={{ marginTop: '0.75rem' }}>
        <CopyButton text={codes.join('\n')} what="recovery codes" className={ui.button} />
        <button type="button" className={ui.button} onClick={() => downloadText('strongroom-recovery-codes.txt', text)}>
          Download as a file
        </button>
      </div>
      <label className={css.savedCheck}>
        <input type="checkbox" checked={saved} onChange={(e) => setSaved(e.target.checked)} /> I have saved my recovery
        codes
      </label>
      <p>
        <button
          className={`${ui.button} ${ui.primary}`}
          onClick={onDone}
          disabled={!saved}
          style={{ marginTop: '1rem' }}
        >
          Continue
        </button>
      </p>
    </div>
  );
}

export function MfaEnrol({ onDone, required }: { onDone: () => void; required: boolean }) {
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  async function start() {
    setError(null);
    try {
      setEnrolment(await api.auth.mfaEnrol());
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    if (enrolment && canvas.current)
      void QRCode.toCanvas(canvas.current, enrolment.otpauthUri, { width: 192, margin: 1 });
  }, [enrolment]);

  async function verify(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      setCodes((await api.auth.mfaEnrolVerify(code.trim())).recoveryCodes);
    } catch (err) {
      setError(err);
    }
  }

  if (codes) return <RecoveryCodes codes={codes} onDone={onDone} />;
  return (
    <div>
      {required ? (
        <Notice kind="warn" title="Set up multi-factor authentication">
          Owners and admins must use an authenticator app (TOTP) before they can do anything else.
        </Notice>
      ) : null}
      <Problem error={error} />
      {!enrolment ? (
        <button className={`${ui.button} ${ui.primary}`} onClick={start}>
          Start enrolment
        </button>
      ) : (
        <form onSubmit={verify}>
          <p>Scan this code with your authenticator app, or type the secret by hand.</p>
          <div className={css.qr}>
            <canvas ref={canvas} aria-label="QR code of the authenticator secret" role="img" />
            <div>
              <p className={ui.label}>Secret</p>
              <div className={css.secretRow}>
                <code className={css.secret} data-testid="totp-secret">
                  {groupsOfFour(enrolment.secret)}
                </code>
                <CopyButton text={enrolment.secret} what="the secret" />
              </div>
              <p className={ui.help}>Spaces are only for reading; apps accept it with or without them.</p>
            </div>
          </div>
          <FieldErrors error={error}>
            <Field
              label="Code from the app"
              path="/code"
              mismatch="Enter the 6 digits your authenticator app shows now."
            >
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  pattern="\s*\d{6}\s*"
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                  required
                />
              )}
            </Field>
          </FieldErrors>
          <button className={`${ui.button} ${ui.primary}`} type="submit">
            Turn on MFA
          </button>
        </form>
      )}
    </div>
  );
}

/** The full-screen form of enrolment, shown to owners and admins right after their first sign-in. */
export function MfaEnrolScreen({ onDone }: { onDone: () => void }) {
  const { me, signOut } = useSession();
  return (
    <main className={css.wrap}>
      <div className={`${css.card} ${css.wide}`}>
        <h1>Protect your account</h1>
        <MfaEnrol onDone={onDone} required />
        <p className={css.notYou}>
          Signed in as <strong>{me?.user.email}</strong>. Not you?{' '}
          <button
            type="button"
            className={`${ui.button} ${ui.quiet}`}
            onClick={async () => {
              await signOut();
              navigate(window.location.pathname + window.location.search, { replace: true });
            }}
          >
            Sign out
          </button>
        </p>
      </div>
    </main>
  );
}
