// The difficulty inbox of the current level: what it handles now, with escalate, comment and resolve for a
// reporter (or admin) there. Each action is one Submission (one idempotency key, kept for a retry).

import { gql } from '../api.js';
import { h, replace } from '../dom.js';
import { moment, t } from '../i18n.js';
import { COMMENT_DIFFICULTY, DIFFICULTY_EVENTS, ESCALATE_DIFFICULTY, RESOLVE_DIFFICULTY } from '../queries.js';
import { Submission, clearFieldErrors, field, showFailure, showTypedError } from '../submit.js';
import { cardList, committeeHref, errorMessage, note } from './common.js';

// Comments do not claim a version (others may comment meanwhile); decisions do.
const ACTIONS = {
  escalate: { document: ESCALATE_DIFFICULTY, field: 'escalateDifficulty', done: 'inbox.escalated', versioned: true },
  comment: { document: COMMENT_DIFFICULTY, field: 'commentDifficulty', done: 'inbox.commented', text: 'body', label: 'inbox.commentLabel' },
  resolve: { document: RESOLVE_DIFFICULTY, field: 'resolveDifficulty', done: 'inbox.resolved', text: 'resolution', label: 'inbox.resolutionLabel', versioned: true },
};

export class Inbox {
  /** host: { canAct(), canEscalate(), announce(text), changed(difficulty), stale(), more() } */
  constructor(host, shown) {
    this.host = host;
    this.shown = shown; // cards shown before "show more"
    this.connection = null;
    this.el = h('div', { class: 'inbox' });
    this.message = h('div', { class: 'inbox-message' }); // outcomes stay here when their item leaves
    this.submissions = new Map();
    this.openPanels = 0;
    this.pending = null;
  }

  submission(id, action) {
    const key = `${id}:${action}`;
    if (!this.submissions.has(key)) this.submissions.set(key, new Submission(ACTIONS[action].document, ACTIONS[action].field));
    return this.submissions.get(key);
  }

  /** Redrawing while someone types in a panel would lose the text: the new list waits for the panel to close. */
  render(connection, loadingMore = false) {
    if (this.openPanels > 0) {
      this.pending = connection;
      return;
    }
    this.connection = connection;
    replace(this.el, this.message, ...cardList(this, connection, {
      item: (difficulty) => this.item(difficulty),
      count: 'inbox.count',
      none: 'inbox.none',
      moreKey: 'inbox-more',
      loadingMore,
      onMore: () => this.host.more(),
    }));
  }

  item(difficulty) {
    const panel = h('div', { class: 'panel-slot' });
    const history = h('details', { class: 'history' }, h('summary', null, t('inbox.history')), h('div'));
    history.addEventListener('toggle', () => history.open && this.loadHistory(difficulty.id, history.lastChild));
    const button = (action) => h('button', {
      type: 'button',
      class: action === 'resolve' ? 'button' : 'button secondary',
      'aria-expanded': 'false',
      onclick: (event) => this.openPanel(action, difficulty, panel, event.currentTarget),
    }, t(`inbox.${action}`));
    const where = difficulty.committee ? h('a', { href: committeeHref(difficulty.committee.code) }, difficulty.committee.name) : '—';
    // "Raised at {where}, {when}" with a link in place of {where}.
    const [before, after] = t('inbox.raisedAt', { when: moment(difficulty.raisedAt) }).split('{where}');
    return h('li', { class: 'card difficulty' },
      h('h3', null, difficulty.title),
      h('p', { class: 'meta' }, h('span', { class: 'badge' }, t(`cat.${difficulty.category}`)), ' ', before, where, after),
      difficulty.description ? h('p', { class: 'desc' }, difficulty.description) : null,
      history,
      this.host.canAct()
        ? h('div', { class: 'actions' }, this.host.canEscalate() ? button('escalate') : null, button('comment'), button('resolve'))
        : null,
      panel);
  }

  openPanel(action, difficulty, panel, opener) {
    this.closePanel(panel);
    const spec = ACTIONS[action];
    const close = () => {
      this.closePanel(panel);
      opener.setAttribute('aria-expanded', 'false');
      opener.focus();
    };
    const textarea = spec.text ? h('textarea', { name: spec.text, rows: 3, required: true, maxLength: 5000 }) : null;
    const send = h('button', { type: 'submit', class: 'button' }, t(action === 'escalate' ? 'inbox.confirmEscalate' : 'inbox.send'));
    const status = h('div', { class: 'form-status' });
    const form = h('form', { class: 'action-form', 'aria-label': t(`inbox.${action}`), novalidate: true },
      textarea ? field(t(spec.label), textarea) : null,
      h('div', { class: 'actions' }, send, h('button', { type: 'button', class: 'button secondary', onclick: close }, t('inbox.cancel'))),
      status);
    const submit = async () => {
      clearFieldErrors(form);
      const input = { difficultyId: difficulty.id };
      if (spec.versioned) input.expectedVersion = difficulty.version;
      if (textarea) {
        input[spec.text] = textarea.value.trim();
        if (!input[spec.text]) return showTypedError(form, status, { __typename: 'ValidationError', field: spec.text, message: t('form.required') });
      }
      send.disabled = true;
      replace(status, note('', t('form.sending'), 'status'));
      const outcome = await this.submission(difficulty.id, action).send(input);
      send.disabled = false;
      const result = outcome.ok;
      if (!result) return showFailure(status, outcome, submit);
      if (result.__typename === 'DifficultyPayload') {
        this.closePanel(panel);
        replace(this.message, note('ok', `${difficulty.title}: ${t(spec.done)}`));
        this.host.announce(t(spec.done));
        if (result.difficulty) this.host.changed(result.difficulty);
      } else if (result.__typename === 'VersionConflict') {
        this.closePanel(panel);
        replace(this.message, note('error', t('typed.VersionConflict'), 'alert'));
        this.host.stale();
      } else {
        showTypedError(form, status, result);
      }
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
    });
    replace(panel, form);
    this.openPanels += 1;
    opener.setAttribute('aria-expanded', 'true');
    (textarea || send).focus();
  }

  closePanel(panel) {
    if (!panel.firstChild) return;
    replace(panel);
    this.openPanels = Math.max(0, this.openPanels - 1);
    if (this.openPanels === 0 && this.pending) {
      const pending = this.pending;
      this.pending = null;
      setTimeout(() => this.render(pending)); // after the current click
    }
  }

  async loadHistory(id, body) {
    if (body.dataset.loaded) return;
    replace(body, h('p', { class: 'loading' }, t('app.loading')));
    try {
      const { data } = await gql(DIFFICULTY_EVENTS, { id });
      body.dataset.loaded = '1';
      replace(body, h('ol', { class: 'events' }, (data?.difficulty?.events?.nodes || []).map((event) => h('li', null,
        h('strong', null, t(`dev.${event.kind}`)),
        event.toCommittee && event.kind.includes('ESCALATED') ? ` → ${event.toCommittee.name}` : '',
        ' · ', h('time', { datetime: event.at }, moment(event.at)),
        event.body ? h('p', null, event.body) : null))));
    } catch (error) {
      replace(body, note('error', errorMessage(error)));
    }
  }
}
