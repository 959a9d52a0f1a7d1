// Pieces every view uses: messages for errors, the not-found page, sections, roles, links.

import { ApiError } from '../api.js';
import { h, nextId, replace } from '../dom.js';
import { clock, has, num, t } from '../i18n.js';

/** A human message, in the page's language, for an ApiError (never the server's JSON). */
export function errorMessage(error) {
  const code = error?.code;
  if (code === 'INTERNAL_SERVER_ERROR') return t('err.INTERNAL_SERVER_ERROR', { id: error.requestId || '—' });
  if (code && has(`err.${code}`)) return t(`err.${code}`);
  return t('err.generic');
}

export function errorView(main, error, retry) {
  replace(
    main,
    h(
      'div',
      { class: 'panel error-page' },
      h('h1', { tabIndex: -1 }, errorMessage(error)),
      retry ? h('button', { type: 'button', class: 'button', onclick: () => retry() }, t('err.retry')) : null,
    ),
  );
}

/** One page for a committee that does not exist and one outside the viewer's scope. */
export function notFoundView(main) {
  document.title = `${t('err.NOT_FOUND')} — ${t('app.title')}`;
  replace(
    main,
    h(
      'div',
      { class: 'panel error-page' },
      h('h1', { tabIndex: -1 }, t('err.NOT_FOUND')),
      h('p', null, t('err.notFoundHelp')),
      h('p', null, h('a', { href: '#/' }, t('err.home'))),
    ),
  );
}

/** <section> titled by its own <h2>. */
export function section(className, title, ...children) {
  const id = nextId('h');
  return h('section', { class: ['panel', className], 'aria-labelledby': id }, h('h2', { id, tabIndex: -1 }, title), ...children);
}

export const RANK = { VIEWER: 1, REPORTER: 2, APPROVER: 3, ADMIN: 4 };

/** The viewer's highest role at a committee, given its code and its ancestors' codes. */
export function roleAt(viewer, codes) {
  let best = 0;
  for (const assignment of viewer?.assignments || []) {
    if (codes.includes(assignment.committee.code)) best = Math.max(best, RANK[assignment.role] || 0);
  }
  return best;
}

export function committeeHref(code) {
  return `#/c/${encodeURIComponent(code)}`;
}

/** Ancestors stop at the top of the viewer's scope: no link above it is ever made. */
export function breadcrumb(ancestors, current, currentHref) {
  // At the top of the scope there is nothing above to show (the heading names the committee).
  if (!ancestors.length && !currentHref) return null;
  const items = ancestors.map((a) => h('li', null, h('a', { href: committeeHref(a.code) }, a.name)));
  items.push(
    h('li', null, currentHref ? h('a', { href: currentHref }, current.name) : h('span', { 'aria-current': 'page' }, current.name)),
  );
  return h('nav', { class: 'crumbs', 'aria-label': t('crumb.label') }, h('ol', null, items));
}

export function isRetryable(error) {
  return error instanceof ApiError && ['NETWORK', 'UNAVAILABLE', 'RATE_LIMITED', 'OUTCOME_UNKNOWN'].includes(error.code);
}

/** Re-render a part of the page without losing the keyboard's place in it. */
export function keepFocus(container, render) {
  const active = document.activeElement;
  const key = container.contains(active) ? active?.dataset?.focusKey : null;
  render();
  if (key) container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

export const empty = (text) => h('p', { class: 'empty' }, text);

/** A message: kind '' (neutral), 'ok' or 'error'; role 'status' or 'alert' when it must be read out. */
export const note = (kind, text, role) => h('p', { class: ['msg', kind && `msg-${kind}`], role }, text);

export function moreButton(label, onclick, { disabled = false, key } = {}) {
  const button = h('button', { type: 'button', class: 'button secondary', disabled, onclick }, label);
  if (key) button.dataset.focusKey = key;
  return h('p', { class: 'more' }, button);
}

/** A screen kept on the phone (offline.js) stands in for one that could not be loaded for want of a connection. */
export function keptScreen(error, entry) {
  return error instanceof ApiError && error.code === 'NETWORK' ? entry : null;
}

/** The mark on a screen shown from what the phone kept. */
export const offlineNote = (at) => h('p', { class: 'msg msg-warn offline-note', role: 'status' }, t('offline.asOf', { time: clock(at) }));

/**
 * The cards of a connection, with its count and a "show more" that reveals the cards loaded, then asks for
 * the next page. `list` keeps `shown` (how many cards show) and redraws with `list.render(connection)`.
 */
export function cardList(list, connection, { item, count, none, moreKey, loadingMore, onMore }) {
  const nodes = connection?.nodes || [];
  const more = () => {
    const fetch = list.shown >= nodes.length;
    list.shown += 20;
    if (fetch) onMore();
    else list.render(connection);
  };
  return [
    nodes.length ? h('p', { class: 'count' }, t(count, { n: num(connection.totalCount) })) : empty(t(none)),
    nodes.length ? h('ul', { class: 'cards' }, nodes.slice(0, list.shown).map(item)) : null,
    list.shown < nodes.length || connection?.pageInfo?.hasNextPage
      ? moreButton(`${t('inbox.more')} (${num(Math.min(list.shown, nodes.length))}/${num(connection.totalCount)})`, more,
        { disabled: loadingMore, key: moreKey })
      : null,
  ];
}
