// The page's shell: header, language, connection indicator, announcer and hash routes.
//   #/              the viewer's first scope root
//   #/c/<code>      a committee's dashboard
//   #/c/<code>/update   record progress for it (reporters)

import { gql, requests, signOut, ApiError } from './api.js';
import { h, replace } from './dom.js';
import { lang, onLangChange, setLang, t } from './i18n.js';
import { liveState, streamStates } from './live.js';
import { forgetScreens, ownScreens, recall, remember } from './offline.js';
import { outbox, queued, setOwner } from './outbox.js';
import { VIEWER_ONLY } from './queries.js';
import { errorView, keptScreen, notFoundView } from './views/common.js';
import { Dashboard } from './views/dashboard.js';

const main = document.getElementById('main');
const net = document.getElementById('net');
const announcer = document.getElementById('announcer');
const outboxLink = document.getElementById('outbox');

// What every view shares: the viewer, committee ids already seen, announcements.
export const session = {
  viewer: null,
  ids: new Map(),
  rememberIds(committees) {
    for (const committee of committees) if (committee?.code && committee.id) this.ids.set(committee.code, committee.id);
  },
  /** The viewer, from a live answer or (kept: true) from a screen the phone kept. */
  setViewer(viewer, { kept = false } = {}) {
    // What the phone keeps is one person's: another's first answer forgets the last one's screens,
    // and only this person's queued writes are sent with this session. A kept answer proves nothing
    // about who is signed in now: it forgets nothing, and writes queued meanwhile wait for a live one.
    if (!kept) ownScreens(viewer.subject);
    setOwner(viewer.subject, { signedIn: !kept });
    this.viewer = viewer;
    this.rememberIds(viewer.assignments.map((assignment) => assignment.committee));
    renderHeader();
  },
  announce,
  noteLiveUpdate,
};

// --- Announcements: polite, and live updates summed up at most every 20 s. ---
let pendingUpdates = 0;
let updateTimer = null;
function announce(text) {
  announcer.textContent = '';
  // A fresh text node, a moment later, so the same words are read again.
  setTimeout(() => (announcer.textContent = text), 50);
}
function noteLiveUpdate() {
  pendingUpdates += 1;
  if (updateTimer) return;
  updateTimer = setTimeout(() => {
    announce(pendingUpdates === 1 ? t('app.update') : t('app.updates', { n: pendingUpdates }));
    pendingUpdates = 0;
    updateTimer = null;
  }, 20000);
}

// --- Header. ---
function renderHeader() {
  document.getElementById('skip-link').textContent = t('app.skip');
  document.getElementById('brand').textContent = t('app.title');
  const langButton = document.getElementById('lang');
  langButton.textContent = t('app.switchLang');
  langButton.lang = lang() === 'vi' ? 'en' : 'vi';
  langButton.setAttribute('aria-label', t('app.switchLangLabel'));
  const signOutButton = document.getElementById('sign-out');
  signOutButton.textContent = t('app.signOut');
  signOutButton.hidden = !session.viewer;
  const who = document.getElementById('who');
  const scopes = document.getElementById('scopes');
  if (!session.viewer) return;
  const viewer = session.viewer;
  const roles = viewer.assignments.map((a) => `${t(`role.${a.role}`)} · ${a.committee.name}`);
  who.textContent = viewer.assignments.length === 1 ? `${viewer.name} — ${roles[0]}` : viewer.name;
  // Several assignments: the viewer picks among their scope roots.
  const roots = uniqueRoots(viewer);
  scopes.hidden = roots.length < 2;
  if (roots.length >= 2) {
    scopes.setAttribute('aria-label', t('app.scopes'));
    replace(
      scopes,
      h('span', { class: 'scopes-label' }, t('app.scopes'), ':'),
      h(
        'ul',
        null,
        roots.map((a) =>
          h('li', null, h('a', { href: `#/c/${encodeURIComponent(a.committee.code)}` }, a.committee.name), ` (${t(`role.${a.role}`)})`),
        ),
      ),
    );
  }
  renderNet();
  renderOutbox();
}

/** Writes kept on the phone: how many wait, how many the server refused, a link to the first. */
function renderOutbox() {
  const items = session.viewer ? queued() : [];
  outboxLink.hidden = !items.length;
  if (!items.length) return;
  const refused = items.filter((item) => item.state === 'refused');
  outboxLink.className = refused.length ? 'outbox outbox-refused' : 'outbox';
  outboxLink.textContent = refused.length
    ? t('queue.headerRefused', { n: refused.length })
    : t('queue.header', { n: items.length });
}
outbox.addEventListener('change', renderOutbox);

function uniqueRoots(viewer) {
  const seen = new Set();
  return viewer.assignments.filter((a) => (seen.has(a.committee.code) ? false : seen.add(a.committee.code)));
}

// --- Connection indicator: live, retrying, offline. ---
let retryingRequests = 0;
let lastNetState = 'live';
function renderNet() {
  const states = streamStates();
  let state = null;
  if (!navigator.onLine) state = 'offline';
  else if (retryingRequests > 0 || states.includes('retrying')) state = 'retrying';
  else if (states.includes('connecting')) state = 'connecting';
  else if (states.length) state = 'live';
  net.hidden = !state;
  if (!state) return;
  net.className = `net net-${state}`;
  net.textContent = t(`net.${state}`);
  if ((state === 'offline' || state === 'retrying') && lastNetState !== state) announce(t(`net.${state}`));
  if (state === 'live' && (lastNetState === 'offline' || lastNetState === 'retrying')) announce(t('net.live'));
  lastNetState = state;
}
liveState.addEventListener('change', renderNet);
requests.addEventListener('retrying', (event) => {
  retryingRequests = event.detail;
  renderNet();
});
window.addEventListener('online', () => {
  renderNet();
  // A screen shown from what the phone kept is loaded again (the update screen keeps what is typed in
  // its forms), and followed live from now.
  if (view?.offlineAt) (view.refresh ? view.refresh().catch(() => {}) : route());
});
window.addEventListener('offline', renderNet);

// --- Routes. ---
let view = null;
let firstRoute = true;

function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'home' };
  if (parts[0] === 'c' && parts[1] && parts.length === 2) return { name: 'committee', code: parts[1] };
  if (parts[0] === 'c' && parts[1] && parts[2] === 'update' && parts.length === 3) return { name: 'update', code: parts[1] };
  if (parts[0] === 'outbox' && parts.length === 1) return { name: 'outbox' };
  return { name: 'unknown' };
}

async function ensureViewer() {
  if (session.viewer) return session.viewer;
  let data;
  try {
    ({ data } = await gql(VIEWER_ONLY));
    session.setViewer(data.viewer); // before keeping: a new person's first answer forgets the last one's
    remember('viewer', data);
  } catch (error) {
    const kept = keptScreen(error, recall('viewer'));
    if (!kept) throw error;
    data = kept.data;
    session.setViewer(data.viewer, { kept: true });
  }
  return session.viewer;
}

let generation = 0;

async function route() {
  const hash = location.hash;
  // An in-page anchor is not a route.
  if (hash && !hash.startsWith('#/')) return;
  if (movingToNewRelease()) return;
  // A newer route wins over one still loading.
  const mine = ++generation;
  const target = parse(hash);
  view?.destroy();
  view = null;
  const focus = !firstRoute;
  firstRoute = false;
  replace(main, h('p', { class: 'loading', role: 'status' }, t('app.loading')));
  try {
    if (target.name === 'home') {
      const viewer = await ensureViewer();
      if (mine !== generation) return;
      const root = viewer.assignments[0];
      if (!root) {
        replace(main, h('h1', { tabIndex: -1 }, t('err.noScope')));
        return;
      }
      history.replaceState(null, '', `#/c/${encodeURIComponent(root.committee.code)}`);
      // The same navigation, not a new one: focus stays where it was.
      firstRoute = !focus;
      return route();
    }
    if (target.name === 'committee') {
      view = new Dashboard(main, session, target.code);
    } else if (target.name === 'outbox') {
      await ensureViewer();
      const { OutboxView } = await import('./views/queue.js');
      if (mine !== generation) return;
      view = new OutboxView(main);
    } else if (target.name === 'update') {
      const { UpdateView } = await import('./views/update.js');
      if (mine !== generation) return;
      view = new UpdateView(main, session, target.code);
    } else {
      await ensureViewer();
      if (mine === generation) notFoundView(main);
      return;
    }
    await view.load();
    if (focus) main.querySelector('h1')?.focus();
  } catch (error) {
    if (error.name === 'AbortError' || mine !== generation) return;
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') return;
    errorView(main, error, route);
  }
}

window.addEventListener('hashchange', route);
onLangChange(() => {
  renderHeader();
  renderNet();
  if (view?.rerender) view.rerender();
  else route();
});

document.getElementById('lang').addEventListener('click', () => setLang(lang() === 'vi' ? 'en' : 'vi'));
document.getElementById('sign-out').addEventListener('click', () => {
  // Writes waiting stay on the phone for this person's next sign-in; they should know.
  const waiting = queued().length;
  if (waiting && !window.confirm(t('queue.signOutWarning', { n: waiting }))) return;
  forgetScreens();
  signOut();
});
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

// The page and its assets kept for the next visit with no connection (web/static/service-worker.js).
// Browsers allow a service worker only on https or on this machine; elsewhere the app works as before.
// A new release installed meanwhile takes over at the next move between screens (nothing typed is
// lost there), and the page reloads into it; the first install takes over at once, with no reload.
let newRelease = null;
let tookOver = false;
let reloadAtNextMove = false;
if ('serviceWorker' in navigator) {
  const hadWorker = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker
    .register('/sw.js')
    .then((registration) => {
      const waiting = () => {
        if (registration.waiting && hadWorker) newRelease = registration.waiting;
      };
      waiting();
      registration.addEventListener('updatefound', () => registration.installing?.addEventListener('statechange', waiting));
    })
    .catch(() => {});
  // Taken over at this tab's move: into the new release now; at another tab's: at this one's next move.
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (!hadWorker) return;
    if (tookOver) location.reload();
    else reloadAtNextMove = true;
  });
}

/** At a move between screens: true when the page reloads into a new release instead. */
function movingToNewRelease() {
  if (reloadAtNextMove) {
    location.reload();
    return true;
  }
  if (newRelease) {
    // The reload follows as soon as the new release has taken over (a moment).
    newRelease.postMessage('take-over');
    newRelease = null;
    tookOver = true;
  }
  return false;
}

renderHeader();
route();
