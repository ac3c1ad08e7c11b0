// Turning GraphQL/network failures into messages a person can act on, by the contract's codes.
import type { CombinedError } from '@urql/core';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'COST_LIMIT'
  | 'TIMEOUT'
  | 'INTERNAL'
  | 'NETWORK';

export type ErrorContext = 'login' | 'signup' | 'task-save' | 'task' | 'tag' | 'webhook' | 'project' | 'generic';

export interface UserError {
  code: ErrorCode;
  /** Sentence to show. */
  message: string;
  /** For BAD_USER_INPUT (and field-specific CONFLICTs): the offending field path, e.g. "title". */
  field?: string;
  /** The server's detail after "field: ". */
  detail?: string;
}

const KNOWN: readonly ErrorCode[] = [
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'CONFLICT',
  'RATE_LIMITED',
  'COST_LIMIT',
  'TIMEOUT',
  'INTERNAL',
];

interface GraphQLErrorLike {
  message: string;
  extensions?: Record<string, unknown> | null;
}

export interface ErrorLike {
  networkError?: Error | undefined;
  graphQLErrors?: readonly GraphQLErrorLike[];
  response?: unknown;
}

const FIELD_RE = /^([A-Za-z_][\w]*(?:(?:\.[A-Za-z_][\w]*)|(?:\[\d+\]))*):\s*(.+)$/s;

/** Splits "title: must be 1 to 500 characters" into field and detail. */
export function splitFieldMessage(message: string): { field?: string; detail: string } {
  const m = FIELD_RE.exec(message.trim());
  if (!m || !m[1] || !m[2]) return { detail: message.trim() };
  return { field: m[1], detail: m[2] };
}

const FIELD_LABELS: Record<string, string> = {
  title: 'Title',
  notes: 'Notes',
  email: 'Email',
  password: 'Password',
  timezone: 'Time zone',
  tags: 'Tags',
  name: 'Tag name',
  dueAt: 'Due date',
  url: 'URL',
  recurrence: 'Repeat',
  'recurrence.rule': 'Repeat rule',
  'recurrence.timezone': 'Repeat time zone',
  reminders: 'Reminders',
  first: 'Page size',
  minutes: 'Minutes',
  expectedVersion: 'Version',
};

export function fieldLabel(field: string): string {
  if (FIELD_LABELS[field]) return FIELD_LABELS[field];
  const rem = /^reminders\[(\d+)\](?:\.(\w+))?$/.exec(field);
  if (rem) return `Reminder ${Number(rem[1]) + 1}${rem[2] ? ` (${rem[2] === 'beforeDue' ? 'before due' : rem[2]})` : ''}`;
  const tag = /^tags\[(\d+)\]$/.exec(field);
  if (tag) return `Tag ${Number(tag[1]) + 1}`;
  const head = field.split(/[.[]/)[0] ?? field;
  return FIELD_LABELS[head] ?? field;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The first error of a failed operation, as a UserError. */
export function describeError(error: ErrorLike | CombinedError | null | undefined, context: ErrorContext = 'generic'): UserError | null {
  if (!error) return null;
  const gql = error.graphQLErrors?.[0];
  if (!gql) {
    if (error.networkError) {
      // Offline the app is read-only (the service worker shows the last data): say so.
      if (typeof navigator !== 'undefined' && navigator.onLine === false)
        return { code: 'NETWORK', message: 'You’re offline, so nothing was changed. Try again once you’re back online.' };
      return { code: 'NETWORK', message: "Can't reach the Taskstream server. Check your connection and try again." };
    }
    return { code: 'INTERNAL', message: 'Something went wrong. Please try again.' };
  }
  const raw = gql.extensions?.code;
  const code: ErrorCode = typeof raw === 'string' && (KNOWN as readonly string[]).includes(raw) ? (raw as ErrorCode) : 'INTERNAL';
  const { field, detail } = splitFieldMessage(gql.message);

  switch (code) {
    case 'UNAUTHENTICATED':
      if (context === 'login') return { code, message: 'That email and password do not match an account.' };
      return { code, message: 'Your session has ended. Please log in again.' };
    case 'NOT_FOUND':
      if (context === 'task' || context === 'task-save')
        return { code, message: 'This task no longer exists. It may have been deleted in another window.' };
      if (context === 'tag') return { code, message: 'That tag no longer exists.' };
      if (context === 'webhook') return { code, message: 'That webhook no longer exists.' };
      if (context === 'project') return { code, message: 'This project no longer exists for you: it was deleted, or you are no longer a member.' };
      return { code, message: 'That item no longer exists.' };
    case 'FORBIDDEN':
      // A member whose role does not allow the change (often: it changed in another window).
      if (context === 'task' || context === 'task-save')
        return { code, message: 'Your role in this task’s project does not allow changing its tasks (viewers can only read). Nothing was changed; ask an owner of the project for the Editor role.' };
      if (context === 'project')
        return { code, message: 'Only an owner of this project can do that, and nothing was changed. Your role may have changed in another window; ask an owner if you need it done.' };
      return { code, message: 'You are not allowed to do that, so nothing was changed.' };
    case 'BAD_USER_INPUT': {
      const message = field ? `${fieldLabel(field)}: ${detail}` : capitalize(detail);
      return { code, message, ...(field ? { field } : {}), detail };
    }
    case 'CONFLICT':
      if (context === 'signup' || field === 'email')
        return { code, message: 'An account with this email already exists. Log in instead?', field: field ?? 'email', detail };
      if (context === 'task-save')
        return {
          code,
          message: 'Someone changed this task after you opened it, so your edits were not saved. Load the latest version, or save again to overwrite it with yours.',
          detail,
        };
      if (context === 'tag') return { code, message: `A tag with that name already exists.`, field: field ?? 'name', detail };
      return { code, message: capitalize(detail), ...(field ? { field } : {}), detail };
    case 'RATE_LIMITED':
      return { code, message: 'Too many requests in a short time. Please wait a few seconds and try again.' };
    case 'COST_LIMIT':
      // The app's own requests stay far below the budget; a larger page or search may not.
      return { code, message: 'That request asks for too much at once. Try a smaller page or a narrower search.', detail };
    case 'TIMEOUT':
      return { code, message: 'The server took too long to answer, and nothing was changed. Please try again.' };
    case 'INTERNAL':
    default:
      return { code: 'INTERNAL', message: 'Something went wrong on the server. Please try again; if it keeps happening, reload the page.' };
  }
}
