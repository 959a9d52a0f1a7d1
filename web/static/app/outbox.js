// Writes recorded with no connection (milestones, results, difficulties), kept on the phone with the
// idempotency key made when they were entered, and sent when the connection returns. Each is recorded
// exactly once however often it is sent: the server answers a repeated key with its first answer, so a
// send whose answer was lost, a page closed mid-send or two tabs sending at once change nothing.
// What the server refuses (a stale version, a report locked meanwhile, a bad value) is kept, shown next
// to what was entered, until the official sends it again or lets it go: never dropped silently.

import { ApiError, errorCode, mutate } from './api.js';
import { RAISE_DIFFICULTY, RECORD_MILESTONE, RECORD_RESULTS } from './queries.js';

const STORAGE_PREFIX = 'congress.outbox.';
// The documents by mutation: an item keeps the mutation's name, so a release that changes a
// document still sends what an older page queued.
const DOCUMENTS = { recordMilestone: RECORD_MILESTONE, recordResults: RECORD_RESULTS, raiseDifficulty: RAISE_DIFFICULTY };
// Answers that say nothing about the write: it stays queued, with its key, for the next try.
const TRY_LATER = new Set(['NETWORK', 'UNAVAILABLE', 'OUTCOME_UNKNOWN', 'RATE_LIMITED', 'BAD_RESPONSE']);
const RETRY_MS = [5000, 15000, 30000, 60000];

/** 'change' whenever the items change; 'sent' ({detail: item}) for each one the server recorded. */
export const outbox = new EventTarget();

let owner = null;
let flushing = null;
let retryTimer = null;
let failures = 0;

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

function save(items) {
  const key = storageKey();
  if (!key) return;
  if (items.length) localStorage.setItem(key, JSON.stringify(items));
  else localStorage.removeItem(key);
  outbox.dispatchEvent(new CustomEvent('change'));
}

function update(key, change) {
  save(load().map((item) => (item.key === key ? { ...item, ...change } : item)));
}

/** Whose queue this is: each person's writes are sent only with their own session. */
export function setOwner(subject) {
  if (owner === subject) return;
  owner = subject;
  outbox.dispatchEvent(new CustomEvent('change'));
  flush();
}

/** The queued items (of one committee, by code), oldest first. */
export function queued(code) {
  return load().filter((item) => !code || item.committee.code === code);
}

/**
 * Queues a write: `field` is the mutation (recordMilestone, recordResults, raiseDifficulty), `input`
 * its input with the idempotencyKey made on the phone; `entered` what the official entered, to show.
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
  return item;
}

/** Let a refused item go (the official decided it is not to be recorded). */
export function discard(key) {
  save(load().filter((item) => item.key !== key));
}

/** Send a refused item again with a changed input (a current version): a new key, as it is a new write. */
export function resend(key, changes, newKey) {
  const item = load().find((existing) => existing.key === key);
  if (!item) return;
  const input = { ...item.input, ...changes, idempotencyKey: newKey };
  save(load().map((existing) => (existing.key === key ? { ...existing, key: newKey, input, state: 'waiting', refusal: null } : existing)));
  flush();
}

/** Sends every waiting item, in the order entered; one flush at a time per page. */
export function flush() {
  if (!flushing) flushing = send().finally(() => (flushing = null));
  return flushing;
}

async function send() {
  clearTimeout(retryTimer);
  if (!owner || !navigator.onLine) return;
  for (const item of queued().filter((candidate) => candidate.state === 'waiting')) {
    let result;
    try {
      const { data, errors } = await mutate(DOCUMENTS[item.field], { input: item.input });
      result = data?.[item.field];
      if (!result) {
        const code = errorCode(errors) || 'BAD_RESPONSE';
        if (TRY_LATER.has(code)) return later();
        result = { __typename: 'Refused', code, message: errors[0]?.message || '' };
      }
    } catch (error) {
      if (error instanceof ApiError && TRY_LATER.has(error.code)) return later();
      result = { __typename: 'Refused', code: error.code || 'BAD_RESPONSE', message: error.message || '' };
    }
    failures = 0;
    if (result.__typename.endsWith('Payload')) {
      save(load().filter((existing) => existing.key !== item.key));
      outbox.dispatchEvent(new CustomEvent('sent', { detail: { item, result } }));
    } else {
      update(item.key, { state: 'refused', refusal: result });
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
