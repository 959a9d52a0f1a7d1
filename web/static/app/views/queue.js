// Writes kept on the phone (outbox.js) as an official sees them: what they entered, waiting or refused,
// with what refused it and, for a stale version, the congress as it is now; "send again" and "let it go"
// for what was refused. Shown at the top of a committee's update screen, and all together at #/outbox
// (reached from the header), so an item stays in reach even when its committee no longer is.

import { h, replace } from '../dom.js';
import { clock, day, milestoneName, num, t } from '../i18n.js';
import { discard, outbox, queued, resendOnCurrent } from '../outbox.js';
import { committeeHref, empty, section } from './common.js';

/** A congress's steps, as the update screen shows them beside its forms. */
export function congressSteps(congress) {
  return [
    h('p', null, h('span', { class: `badge status-${congress.status}` }, t(`status.${congress.status}`)),
      ` · ${t('form.version', { v: congress.version })}`, congress.deadline ? ` · ${t('congress.deadline')}: ${day(congress.deadline)}` : ''),
    h('ol', { class: 'rows state-steps' }, congress.milestones.map((m) => h('li', { class: `ms-${m.status}` },
      h('span', { class: 'step-name' }, milestoneName(m.milestone, m.name)),
      h('span', { class: 'row-meta' }, t(`status.${m.status}`), m.occurredOn ? ` · ${day(m.occurredOn)}` : '')))),
  ];
}

export function enteredText(entered) {
  if (entered.kind === 'milestone') {
    const when = entered.occurredOn ? ` · ${day(entered.occurredOn)}` : '';
    return `${milestoneName(entered.milestone, entered.name)}: ${t(`status.${entered.status}`)}${when}`;
  }
  if (entered.kind === 'results') {
    return `${t('form.results.title')}: ${Object.entries(entered.figures)
      .filter(([, value]) => typeof value === 'number')
      .map(([name, value]) => `${t(`form.${name}`)} ${num(value)}`).join(', ')}`;
  }
  return `${t('form.difficulty.title')}: ${entered.title}`;
}

/** What refused it, in the page's language; the server's own words follow as a detail. */
function refusalText(refusal) {
  const type = refusal.__typename;
  if (type === 'CongressVersionConflict') return t('queue.stale', { v: refusal.currentVersion });
  return type === 'Refused' ? t('err.generic') : t(`typed.${type}`);
}

function queueItem(item, { withCommittee }) {
  const where = withCommittee
    ? h('p', null, h('a', { href: `${committeeHref(item.committee.code)}/update` }, item.committee.name))
    : null;
  const entered = h('p', null, h('strong', null, t('queue.entered')), ' ', enteredText(item.entered));
  const at = h('p', { class: 'meta' }, t('queue.at', { time: clock(item.queuedAt) }));
  if (item.state !== 'refused') {
    return h('li', { class: 'card queued', 'data-key': item.key }, h('span', { class: 'badge report-SUBMITTED' }, t('queue.badge')), where, entered, at);
  }
  const refusal = item.refusal || {};
  return h('li', { class: 'card queued refused', 'data-key': item.key },
    h('span', { class: 'badge report-RETURNED' }, t('queue.refusedBadge')),
    where, entered, at,
    h('div', { class: 'msg msg-error', role: 'alert' }, h('p', null, refusalText(refusal)),
      refusal.message ? h('p', { class: 'detail' }, t('typed.detail', { msg: refusal.message })) : null,
      refusal.congress ? h('div', { class: 'conflict-state' }, congressSteps(refusal.congress)) : null),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button', onclick: () => resendOnCurrent(item.key) }, t('queue.again')),
      h('button', { type: 'button', class: 'button secondary', onclick: () => discard(item.key) }, t('queue.discard'))));
}

/** The queue of one committee (by code), or of all; nothing when it is empty. */
export function queuePanel(code = null) {
  const items = queued(code);
  if (!items.length) return null;
  const waiting = items.filter((item) => item.state === 'waiting').length;
  return section('outbox', t('queue.title'),
    h('p', { class: 'hint' }, waiting ? t('queue.waiting', { n: num(waiting) }) : t('queue.refusedOnly')),
    h('ul', { class: 'cards' }, items.map((item) => queueItem(item, { withCommittee: !code }))));
}

/** #/outbox: every write kept on this phone, whatever committee it is for. */
export class OutboxView {
  constructor(main) {
    this.main = main;
    this.changed = () => this.render();
    outbox.addEventListener('change', this.changed);
  }

  async load() {
    this.render();
  }

  render() {
    document.title = `${t('queue.title')} — ${t('app.title')}`;
    replace(this.main, h('div', { class: 'page-head' }, h('h1', { tabIndex: -1 }, t('queue.title'))),
      queuePanel() || empty(t('queue.none')));
  }

  rerender() {
    this.render();
  }

  destroy() {
    outbox.removeEventListener('change', this.changed);
  }
}
