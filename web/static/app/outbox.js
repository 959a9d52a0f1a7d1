// Writes recorded with no connection (milestones, results, difficulties), kept on the phone with the
// idempotency key made when they were entered, and sent when the connection returns. Each is recorded
// exactly once however often it is sent: the server answers a repeated key with its first answer, so a
// send whose answer was lost, a page closed mid-send or two tabs sending at once change nothing.
// What the server refuses (a stale version, a report locked meanwhile, a bad value) is kept, shown next
// to what was entered, until the official sends it again or lets it go: never dropped silently.

import { ApiError, csrfToken, errorCode, gql, mutate } from './api.js';
import { forgetScreens } from './offline.js';
import { RAISE_DIFFICULTY, RECORD_MILESTONE, RECORD_RESULTS, VIEWER_ONLY } from './queries.js';
import { newKey } from './submit.js';

const STORAGE_PREFIX = 'congress.outbox.';
// The documents by mutation: an item keeps the mutation's name, so a release that changes a
// document still sends what an older page queued.
const DOCUMENTS = { recordMilestone: RECORD_MILESTONE, recordResults: RECORD_RESULTS, raiseDifficulty: RAISE_DIFFICULTY };
// Answers that say nothing about the write: it stays queued, with its key, for the next try.
const TRY_LATER = new Set(['NETWORK', 'UNAVAILABLE', 'OUTCOME_UNKNOWN', 'RATE_LIMITED', 'BAD_RESPONSE']);
// The session is over or out of step: nothing is sent until the person signs in (or reloads) again.
const STOP = new Set(['UNAUTHENTICATED', 'CSRF_FAILED']);
const RETRY_MS = [5000, 15000, 30000, 60000];

/**
 * 'change' whenever the items change; 'sent' ({detail: {item, result}}) for each one the server
 * recorded; 'refused' ({detail: {item, refusal}}) for each one it did not take.
 */
export const outbox = new EventTarget();

let owner = null;
// The session (its CSRF cookie) in which a live answer of the server named the owner: only in it is
// anything sent. The owner named by a screen the phone kept may queue writes, not send them; another
// person signing in (in another tab) changes the cookie, and this page sends nothing more.
let ownerSession = null;
let flushing = null;
let again = false;
let retryTimer = null;
let failures = 0;
// The newest congress version the server told this page, by committee code: what a write sent again
// "on the current data" expects.
const serverVersions = new Map();

function storageKey() {
  return owner ? STORAGE_PREFIX + owner : null;
}

function load() {
  const key = storageKey();
  if (!key) return [];
  try {
    return JSON.parse(localStorage.getItem(key) || '[]');
  } catch {
    return [];
  }
}

/** Stores the items; a full storage first gives up the kept screens (they can be loaded again). */
function save(items) {
  const key = storageKey();
  if (!key) throw new Error('no one signed in');
  const write = () => (items.length ? localStorage.setItem(key, JSON.stringify(items)) : localStorage.removeItem(key));
  try {
    write();
  } catch {
    forgetScreens();
    write(); // still full: the caller says the write could not be kept
  }
  outbox.dispatchEvent(new CustomEvent('change'));
}

function update(key, change) {
  save(load().map((item) => (item.key === key ? { ...item, ...change } : item)));
}

/**
 * Whose queue this is, and whether the server said so (`signedIn`) or only a screen the phone kept:
 * each person's writes are sent only once the server has named them the one signed in.
 */
export function setOwner(subject, { signedIn }) {
  if (owner !== subject) ownerSession = null;
  owner = subject;
  if (signedIn) ownerSession = csrfToken();
  outbox.dispatchEvent(new CustomEvent('change'));
  flush();
}

/**
 * Whether this page may send the owner's writes now: in the session the server named them in, or,
 * named so far only by a kept screen, once the server says (the viewer, asked now) that they are
 * the one signed in. null: it cannot tell yet (no connection).
 */
async function ownerConfirmed() {
  if (ownerSession !== null) return ownerSession === csrfToken();
  try {
    const { data } = await gql(VIEWER_ONLY);
    if (data?.viewer?.subject !== owner) return false;
    ownerSession = csrfToken();
    return true;
  } catch (error) {
    if (error instanceof ApiError && TRY_LATER.has(error.code)) return null;
    return false;
  }
}

/** The queued items (of one committee, by code), oldest first. */
export function queued(code) {
  return load().filter((item) => !code || item.committee.code === code);
}

/**
 * Queues a write and tries to send it: `field` is the mutation (recordMilestone, recordResults,
 * raiseDifficulty), `input` its input with the idempotencyKey made on the phone; `entered` what the
 * official entered, to show. Throws when the phone cannot keep it (its storage is full).
 */
export function enqueue({ field, input, committee, entered }) {
  const item = {
    key: input.idempotencyKey,
    field,
    input,
    committee: { id: committee.id, code: committee.code, name: committee.name },
    entered,
    queuedAt: Date.now(),
    state: 'waiting',
  };
  save([...load().filter((existing) => existing.key !== item.key), item]);
  flush();
  return item;
}

/** Let a refused item go (the official decided it is not to be recorded). */
export function discard(key) {
  save(load().filter((item) => item.key !== key));
}

/**
 * Send a refused item again on the congress as the server last said it is. A changed input is a new
 * write (a new key); the same input keeps its key, so a refusal that was not one (an error after the
 * write was recorded) cannot record it twice.
 */
export function resendOnCurrent(key) {
  const item = load().find((existing) => existing.key === key);
  if (!item) return;
  const input = { ...item.input };
  if ('expectedVersion' in input) {
    const current = Math.max(item.refusal?.currentVersion ?? 0, serverVersions.get(item.committee.code) ?? 0);
    if (current) input.expectedVersion = current;
  }
  const changed = JSON.stringify(input) !== JSON.stringify(item.input);
  if (changed) input.idempotencyKey = newKey();
  save(load().map((existing) => (existing.key === key
    ? { ...existing, key: input.idempotencyKey, input, state: 'waiting', refusal: null } : existing)));
  flush();
}

/** Sends every waiting item, in the order entered; one flush at a time per page, run again if asked meanwhile. */
export function flush() {
  if (flushing) {
    again = true;
    return flushing;
  }
  flushing = send().finally(() => {
    flushing = null;
    if (again) {
      again = false;
      flush();
    }
  });
  return flushing;
}

/** A congress as the server answered it (a load, a write): what "send again" will expect. */
export function noteServerVersion(code, congress) {
  if (congress?.version) serverVersions.set(code, Math.max(congress.version, serverVersions.get(code) ?? 0));
}

async function send() {
  clearTimeout(retryTimer);
  if (!owner || !navigator.onLine) return;
  const confirmed = await ownerConfirmed();
  if (confirmed === null) return later();
  if (!confirmed) return;
  const tried = new Set();
  for (;;) {
    const item = queued().find((candidate) => candidate.state === 'waiting' && !tried.has(candidate.key));
    if (!item) return;
    tried.add(item.key);
    let result;
    try {
      const { data, errors } = await mutate(DOCUMENTS[item.field], { input: item.input });
      result = data?.[item.field];
      if (!result) {
        const code = errorCode(errors) || 'BAD_RESPONSE';
        if (STOP.has(code)) return;
        if (TRY_LATER.has(code)) return later();
        result = { __typename: 'Refused', code, message: errors[0]?.message || '' };
      }
    } catch (error) {
      if (error instanceof ApiError && STOP.has(error.code)) return;
      if (error instanceof ApiError && TRY_LATER.has(error.code)) return later();
      result = { __typename: 'Refused', code: error.code || 'BAD_RESPONSE', message: error.message || '' };
    }
    failures = 0;
    if (result.__typename.endsWith('Payload')) {
      noteServerVersion(item.committee.code, result.congress);
      save(load().filter((existing) => existing.key !== item.key)); // smaller: cannot fill the storage
      outbox.dispatchEvent(new CustomEvent('sent', { detail: { item, result } }));
    } else if (queued().some((existing) => existing.key === item.key)) { // not let go meanwhile
      noteServerVersion(item.committee.code, result.congress);
      try {
        update(item.key, { state: 'refused', refusal: result });
      } catch {
        // Full: the refusal is kept without the congress it showed (what was entered stays).
        const { congress, ...refusal } = result;
        update(item.key, { state: 'refused', refusal });
      }
      outbox.dispatchEvent(new CustomEvent('refused', { detail: { item, refusal: result } }));
    }
  }
}

/** The server could not be reached or did not say: try again later, sooner when the phone says it is online. */
function later() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(flush, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
  failures += 1;
}

window.addEventListener('online', () => flush());
