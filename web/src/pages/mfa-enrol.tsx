/**
 * MFA enrolment: scan the QR code (drawn on a canvas, so no image URL is needed) or type the
 * secret, confirm with a code, keep the recovery codes. Owners and admins must do this before
 * anything else; others may do it from their account page.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import { api } from '../lib/api.ts';
import { Field, Notice, Problem, ui } from '../ui/components.tsx';
import css from './signin.module.css';

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
    if (enrolment && canvas.current) void QRCode.toCanvas(canvas.current, enrolment.otpauthUri, { width: 192, margin: 1 });
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

  if (codes) {
    return (
      <div>
        <Notice kind="ok" title="Multi-factor authentication is on">
          Keep these recovery codes somewhere safe: each signs you in once if you lose your authenticator. They are not shown again.
        </Notice>
        <div className={css.codes} data-testid="recovery-codes">
          {codes.map((c) => (
            <div key={c}>{c}</div>
          ))}
        </div>
        <p>
          <button className={`${ui.button} ${ui.primary}`} onClick={onDone} style={{ marginTop: '1rem' }}>
            Continue
          </button>
        </p>
      </div>
    );
  }
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
              <code className={css.secret} data-testid="totp-secret">
                {enrolment.secret}
              </code>
            </div>
          </div>
          <Field label="Code from the app">{(id) => <input id={id} className={ui.input} inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />}</Field>
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
  return (
    <main className={css.wrap}>
      <div className={`${css.card} ${css.wide}`}>
        <h1>Protect your account</h1>
        <MfaEnrol onDone={onDone} required />
      </div>
    </main>
  );
}
