import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { useClient, useQuery } from 'urql';
import { DeleteWebhookDocument, MeDocument, RegisterWebhookDocument, UpdateMeDocument, WebhooksDocument, type WebhooksQuery } from '../gql/graphql';
import { formatDateTime, timeZoneNames } from '../lib/datetime';
import { describeError, type UserError } from '../lib/errors';
import { AuditTrail } from './AuditTrail';
import { ErrorBanner, FieldError } from './ErrorMessage';
import { useMe } from './MeContext';
import { PushSettings } from './Push';
import { TagManager } from './TagManager';
import { useToast } from './Toast';
import { useOfflineProps } from '../lib/offline';

export function SettingsPage() {
  const me = useMe();
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  return (
    <div className="settings">
      <h1 ref={headingRef} tabIndex={-1}>
        Settings
      </h1>
      <section className="card" aria-labelledby="profile-heading">
        <h2 id="profile-heading">Profile</h2>
        <dl className="profile">
          <dt>Email</dt>
          <dd>{me.email}</dd>
        </dl>
        <TimeZoneForm />
      </section>
      <PushSettings />
      <Webhooks />
      <section className="card" aria-labelledby="tags-heading">
        <h2 id="tags-heading">Tags</h2>
        <TagManager />
      </section>
      <section className="card" aria-labelledby="audit-heading">
        <h2 id="audit-heading">Audit log</h2>
        <p className="hint">Every change to your tasks, tags, reminders and webhooks, linked in a tamper-evident hash chain.</p>
        <AuditTrail />
      </section>
    </div>
  );
}

function TimeZoneForm() {
  const ids = useId();
  const me = useMe();
  const client = useClient();
  const toast = useToast();
  const [zone, setZone] = useState(me.timezone);
  const [error, setError] = useState<UserError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const offline = useOfflineProps();
  const names = useMemo(() => timeZoneNames(me.timezone), [me.timezone]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaved(null);
    setBusy(true);
    const res = await client.mutation(UpdateMeDocument, { timezone: zone }).toPromise();
    if (!res.data) {
      setBusy(false);
      setError(describeError(res.error));
      return;
    }
    // Every screen reads the zone from Me: refresh it so times follow the new zone.
    await client.query(MeDocument, {}, { requestPolicy: 'network-only' }).toPromise();
    setBusy(false);
    const label = res.data.updateMe.timezone.replace(/_/g, ' ');
    setSaved(label);
    toast(`Time zone set to ${label}`);
  }

  const fieldError = error?.field === 'timezone' ? error.detail : undefined;
  return (
    <form className="inline-form timezone-form" onSubmit={(e) => void save(e)} noValidate>
      <div className="field grow">
        <label htmlFor={`${ids}-tz`}>Time zone</label>
        <select
          id={`${ids}-tz`}
          value={zone}
          onChange={(e) => {
            setZone(e.target.value);
            setSaved(null);
          }}
          aria-invalid={fieldError ? true : undefined}
          aria-describedby={`${ids}-tz-hint${fieldError ? ` ${ids}-tz-error` : ''}`}
        >
          {names.map((n) => (
            <option key={n} value={n}>
              {n.replace(/_/g, ' ')}
            </option>
          ))}
        </select>
        <p id={`${ids}-tz-hint`} className="hint">
          Due dates, reminders and new repeating tasks use this zone. Now {formatDateTime(new Date().toISOString(), zone)} there.
        </p>
        <FieldError id={`${ids}-tz-error`} message={fieldError} />
        {saved ? (
          <p className="hint saved-note" role="status" data-testid="timezone-saved">
            Saved: times are now shown in {saved}.
          </p>
        ) : null}
      </div>
      <button type="submit" className="primary" disabled={busy || zone === me.timezone} {...offline}>
        {busy ? 'Saving…' : 'Save time zone'}
      </button>
      <ErrorBanner error={error && error.field !== 'timezone' ? error : null} />
    </form>
  );
}

function Webhooks() {
  const ids = useId();
  const me = useMe();
  const client = useClient();
  const toast = useToast();
  const [{ data, error: loadError }, refetch] = useQuery({ query: WebhooksDocument, requestPolicy: 'cache-and-network' });
  const [url, setUrl] = useState('');
  const [error, setError] = useState<UserError | null>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const offline = useOfflineProps();
  const secretRef = useRef<HTMLDivElement>(null);

  async function register(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!/^https?:\/\/\S+$/i.test(url.trim())) {
      setError({ code: 'BAD_USER_INPUT', field: 'url', message: 'Enter an http:// or https:// URL.', detail: 'Enter an http:// or https:// URL.' });
      return;
    }
    setBusy(true);
    const res = await client.mutation(RegisterWebhookDocument, { url: url.trim() }).toPromise();
    setBusy(false);
    if (!res.data) {
      setError(describeError(res.error, 'webhook'));
      return;
    }
    setSecret({ url: res.data.registerWebhook.webhook.url, secret: res.data.registerWebhook.secret });
    setUrl('');
    refetch({ requestPolicy: 'network-only' });
    setTimeout(() => secretRef.current?.focus(), 0);
  }

  async function remove(hook: WebhooksQuery['webhooks'][number]) {
    const res = await client.mutation(DeleteWebhookDocument, { id: hook.id }).toPromise();
    if (res.error) {
      setError(describeError(res.error, 'webhook'));
      return;
    }
    toast(`Webhook ${hook.url} deleted`);
    refetch({ requestPolicy: 'network-only' });
  }

  const hooks = data?.webhooks ?? [];
  const urlError = error?.field === 'url' ? error.detail : undefined;
  return (
    <section className="card" aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">Webhooks</h2>
      <p className="hint">
        Reminders sent on the Webhook channel are POSTed as JSON to these URLs, signed with <code>X-Taskstream-Signature</code>.
      </p>
      {secret ? (
        <div ref={secretRef} tabIndex={-1} className="banner banner-success secret-box" role="status" data-testid="webhook-secret">
          <p>
            <strong>Webhook registered.</strong> Copy its signing secret now — it will not be shown again.
          </p>
          <div className="secret-row">
            <code className="secret">{secret.secret}</code>
            <button
              type="button"
              className="small"
              onClick={() => {
                void navigator.clipboard?.writeText(secret.secret).then(() => toast('Secret copied'), () => toast('Copy failed — select the text instead', 'error'));
              }}
            >
              Copy
            </button>
          </div>
          <button type="button" className="link-button" onClick={() => setSecret(null)}>
            I’ve saved it
          </button>
        </div>
      ) : null}
      <ErrorBanner error={error && error.field !== 'url' ? error : null} />
      {loadError ? <p className="field-error">{describeError(loadError)?.message}</p> : null}
      <form className="inline-form webhook-form" onSubmit={(e) => void register(e)} noValidate>
        <div className="field grow">
          <label htmlFor={`${ids}-url`}>Webhook URL</label>
          <input
            id={`${ids}-url`}
            type="url"
            inputMode="url"
            placeholder="https://example.com/taskstream-hook"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={urlError ? true : undefined}
            aria-describedby={urlError ? `${ids}-url-error` : undefined}
          />
          <FieldError id={`${ids}-url-error`} message={urlError} />
        </div>
        <button type="submit" className="primary" disabled={busy} {...offline}>
          {busy ? 'Registering…' : 'Register webhook'}
        </button>
      </form>
      {hooks.length ? (
        <ul className="webhook-list" aria-label="Registered webhooks">
          {hooks.map((h) => (
            <WebhookRow key={h.id} hook={h} tz={me.timezone} onDelete={() => void remove(h)} />
          ))}
        </ul>
      ) : data ? (
        <p className="hint">No webhooks registered.</p>
      ) : null}
    </section>
  );
}

function WebhookRow({ hook, tz, onDelete }: { hook: WebhooksQuery['webhooks'][number]; tz: string; onDelete: () => void }) {
  const [confirm, setConfirm] = useState(false);
  return (
    <li className="webhook-row">
      <div className="webhook-url">
        <code>{hook.url}</code>
        <span className="hint">added {formatDateTime(hook.createdAt, tz, { withYear: true })}</span>
      </div>
      {confirm ? (
        <span className="row-actions">
          <button type="button" className="danger small" autoFocus onClick={onDelete}>
            Yes, delete
          </button>
          <button type="button" className="ghost small" onClick={() => setConfirm(false)}>
            Cancel
          </button>
        </span>
      ) : (
        <button type="button" className="ghost small danger" onClick={() => setConfirm(true)} aria-label={`Delete webhook ${hook.url}`}>
          Delete
        </button>
      )}
    </li>
  );
}
