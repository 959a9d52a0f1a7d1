// The last screens an official loaded, kept on the phone (localStorage) so that with no connection
// they still show, marked "offline, as of HH:MM". Kept per signed-in person: another person's
// first answer, or signing out, forgets them all (so a screen is kept after its viewer is known:
// ownScreens, then remember). A screen is shown again only in the session that loaded it: a new
// sign-in on the phone, before its first answer, cannot see what the last session kept.

import { csrfToken } from './api.js';

const PREFIX = 'congress.screen.';
const OWNER = 'congress.owner';
// The screens kept: the most recently loaded, a few dozen (each a few kilobytes to tens of them).
const KEEP = 30;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage refused (a private window): nothing is kept
  }
}

function keys() {
  const store = storage();
  if (!store) return [];
  const found = [];
  for (let i = 0; i < store.length; i += 1) {
    const key = store.key(i);
    if (key?.startsWith(PREFIX)) found.push(key);
  }
  return found;
}

/** Keeps an answer under `key` (a document and its variables), with the time it was loaded. */
export function remember(key, data) {
  const store = storage();
  if (!store) return;
  const entry = JSON.stringify({ at: Date.now(), session: csrfToken(), data });
  try {
    store.setItem(PREFIX + key, entry);
  } catch {
    // Full: the oldest half goes, then once more.
    dropOldest(Math.ceil(keys().length / 2));
    try {
      store.setItem(PREFIX + key, entry);
    } catch {
      return;
    }
  }
  const kept = keys();
  if (kept.length > KEEP) dropOldest(kept.length - KEEP);
}

/** { at, data } as kept under `key`, or null. */
export function recall(key) {
  try {
    const entry = JSON.parse(storage()?.getItem(PREFIX + key) || 'null');
    return entry && typeof entry.at === 'number' && entry.session === csrfToken() ? entry : null;
  } catch {
    return null;
  }
}

function dropOldest(count) {
  const store = storage();
  const aged = keys()
    .map((key) => ({ key, at: recall(key.slice(PREFIX.length))?.at ?? 0 }))
    .sort((a, b) => a.at - b.at);
  for (const { key } of aged.slice(0, count)) store.removeItem(key);
}

/** Forgets every kept screen (signing out, or someone else signed in on this phone). */
export function forgetScreens() {
  const store = storage();
  for (const key of keys()) store?.removeItem(key);
}

/** The person whose screens these are: a different one forgets the last one's. */
export function ownScreens(subject) {
  const store = storage();
  if (!store || store.getItem(OWNER) === subject) return;
  forgetScreens();
  store.setItem(OWNER, subject);
}
