// A congress's report to the level above: its state, what it still lacks, and the moves the viewer may make
// (submit, for a reporter of the committee; approve, return or reopen, for an approver above it), and the
// approver's inbox of reports waiting below. Each move is one Submission: one idempotency key, kept for a retry.

import { h, replace } from '../dom.js';
import { moment, num, t } from '../i18n.js';
import { APPROVE_REPORT, REOPEN_REPORT, RETURN_REPORT, SUBMIT_REPORT } from '../queries.js';
import { Submission, clearFieldErrors, field, showFailure, showTypedError } from '../submit.js';
import { RANK, cardList, committeeHref, empty, note, roleAt } from './common.js';

const MOVES = {
  submit: { document: SUBMIT_REPORT, field: 'submitReport' },
  approve: { document: APPROVE_REPORT, field: 'approveReport' },
  return: { document: RETURN_REPORT, field: 'returnReport', reason: true },
  reopen: { document: REOPEN_REPORT, field: 'reopenReport', reason: true },
};
const SUBMITTABLE = new Set(['DRAFT', 'RETURNED', 'REOPENED']);
const REASON_MAX = 2000;

/** What the viewer may do with the report of `committee` (with its ancestors), as policy.py decides it. */
export function reportRights(viewer, committee) {
  const above = committee.ancestors.map((a) => a.code);
  return {
    mayReport: roleAt(viewer, [...above, committee.code]) >= RANK.REPORTER,
    mayDecide: roleAt(viewer, above) >= RANK.APPROVER && !viewer?.assignments.some((a) => a.committee.code === committee.code),
  };
}

function movesFor(report, { mayReport, mayDecide }) {
  if (!report) return [];
  const moves = [];
  if (mayReport && SUBMITTABLE.has(report.state)) moves.push('submit');
  if (mayDecide && report.state === 'SUBMITTED') moves.push('approve', 'return');
  if (mayDecide && report.state === 'APPROVED') moves.push('reopen');
  return moves;
}

// A milestone is named by the term's template; the rest in the page's language.
const missingText = (item) => {
  if (item.kind === 'CHILDREN') return t('report.missingChildren', { n: num(item.count ?? 0) });
  if (item.kind === 'RESULTS') return t('report.missingResults');
  return item.label;
};

function missingList(missing) {
  return h('ul', { class: 'missing' }, missing.map((item) => h('li', null, missingText(item))));
}

/** The report's state, who moved it when, the reason it came back and what it lacks. */
function reportFacts(report) {
  const row = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
  const who = (official, at) => [official?.name || '—', ' · ', h('time', { datetime: at }, moment(at))];
  const missing = SUBMITTABLE.has(report.state) ? report.missing || [] : [];
  return [
    h('dl', { class: 'facts' },
      row(t('report.state'), h('span', { class: `badge report-${report.state}` }, t(`report.${report.state}`))),
      report.submittedAt ? row(t('report.submitted'), who(report.submittedBy, report.submittedAt)) : null,
      report.decidedAt ? row(t('report.decided'), who(report.decidedBy, report.decidedAt)) : null),
    report.reason && report.state !== 'APPROVED' && report.state !== 'SUBMITTED'
      ? h('div', { class: 'msg msg-warn reason' }, h('p', null, h('strong', null, t(`report.reason.${report.state}`))), h('p', null, report.reason))
      : null,
    report.missing && SUBMITTABLE.has(report.state)
      ? missing.length
        ? h('div', { class: 'missing-block' }, h('p', null, t('report.missing')), missingList(missing))
        : h('p', { class: 'msg msg-ok' }, t('report.complete'))
      : null,
  ];
}

/**
 * Sends report moves and shows their outcomes. host: { announce(text), moved(congress, move, text), stale(),
 * formClosed() (optional: a reason form was cancelled) }.
 * One Submission per (congress, move), so a retry after an unknown outcome reuses its key.
 */
export class ReportMover {
  constructor(host) {
    this.host = host;
    this.submissions = new Map();
  }

  submission(congressId, move) {
    const key = `${congressId}:${move}`;
    if (!this.submissions.has(key)) this.submissions.set(key, new Submission(MOVES[move].document, MOVES[move].field));
    return this.submissions.get(key);
  }

  /** The buttons for `moves`, and a slot below them for a reason form or an outcome. */
  controls(congress, committee, moves, label = '') {
    if (!moves.length) return null;
    const slot = h('div', { class: 'report-slot' });
    const buttons = moves.map((move) => h('button', {
      type: 'button',
      class: move === 'return' || move === 'reopen' ? 'button secondary' : 'button',
      'aria-expanded': MOVES[move].reason ? 'false' : null,
      'aria-label': label ? `${t(`report.do.${move}`)}: ${label}` : null,
      onclick: (event) => (MOVES[move].reason
        ? this.reasonForm(congress, committee, move, slot, event.currentTarget)
        : this.send(congress, committee, move, {}, slot, event.currentTarget)),
    }, t(`report.do.${move}`)));
    return h('div', { class: 'report-moves' }, h('div', { class: 'actions' }, buttons), slot);
  }

  reasonForm(congress, committee, move, slot, opener) {
    const textarea = h('textarea', { name: 'reason', rows: 3, maxLength: REASON_MAX, required: true });
    const send = h('button', { type: 'submit', class: 'button' }, t(`report.confirm.${move}`));
    const close = () => {
      replace(slot);
      opener.setAttribute('aria-expanded', 'false');
      opener.focus();
      this.host.formClosed?.();
    };
    const form = h('form', { class: 'action-form', 'aria-label': t(`report.do.${move}`), novalidate: true },
      field(t('report.reasonLabel'), textarea, t('report.reasonHint')),
      h('div', { class: 'actions' }, send, h('button', { type: 'button', class: 'button secondary', onclick: close }, t('inbox.cancel'))),
      h('div', { class: 'form-status' }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      const reason = textarea.value.trim();
      if (!reason) return showTypedError(form, form.lastChild, { __typename: 'ValidationError', field: 'reason', message: t('form.required') });
      this.send(congress, committee, move, { reason }, form.lastChild, send, form);
    });
    replace(slot, form);
    opener.setAttribute('aria-expanded', 'true');
    textarea.focus();
  }

  async send(congress, committee, move, extra, status, button, form = null) {
    const input = { committeeId: committee.id, term: congress.term?.code, expectedVersion: congress.report.version, ...extra };
    button.disabled = true;
    replace(status, note('', t('form.sending'), 'status'));
    const outcome = await this.submission(congress.id, move).send(input);
    button.disabled = false;
    const result = outcome.ok;
    if (!result) return showFailure(status, outcome, () => this.send(congress, committee, move, extra, status, button, form));
    if (result.__typename === 'ReportPayload') {
      const text = t(result.replayed ? 'report.replayed' : `report.done.${move}`, { name: committee.name });
      this.host.announce(text);
      this.host.moved(result.congress, move, text);
      return;
    }
    if (result.__typename === 'ReportIncomplete') {
      return replace(status, h('div', { class: 'msg msg-error', role: 'alert' }, h('p', null, t('typed.ReportIncomplete')), missingList(result.missing)));
    }
    if (result.__typename === 'VersionConflict') {
      replace(status, note('error', t('report.stale'), 'alert'));
      return this.host.stale();
    }
    showTypedError(form || status.parentNode, status, result);
  }
}

/** The report section of one congress: facts, then the moves the viewer may make. */
export function reportPanel(mover, congress, committee, rights) {
  const report = congress?.report;
  if (!report) return empty(t('congress.noCongress'));
  return h('div', { class: 'report' }, reportFacts(report), mover.controls(congress, committee, movesFor(report, rights)));
}

/** The approver's inbox: reports submitted below, the longest waiting first, each with approve and return. */
export class ApprovalInbox {
  /** host: { canDecide(), more(), ...ReportMover's host } */
  constructor(host, mover, shown) {
    Object.assign(this, { host, mover, shown });
    this.el = h('div', { class: 'approvals' });
    this.message = h('div', { class: 'inbox-message' }); // an outcome stays here when its item leaves
  }

  render(connection, loadingMore = false) {
    // Redrawing while someone types a reason would lose it: wait for that form to close.
    if (this.el.querySelector('textarea')) {
      this.pending = connection;
      return;
    }
    replace(this.el, this.message, ...cardList(this, connection, {
      item: (congress) => this.item(congress),
      count: 'approvals.count',
      none: 'approvals.none',
      moreKey: 'approvals-more',
      loadingMore,
      onMore: () => this.host.more(),
    }));
  }

  item(congress) {
    const committee = congress.committee;
    const report = congress.report;
    const moves = this.host.canDecide() ? ['approve', 'return'] : [];
    return h('li', { class: 'card approval', 'data-congress': congress.id },
      h('h3', null, h('a', { href: committeeHref(committee.code) }, committee.name)),
      h('p', { class: 'meta' }, t('approvals.sent', { who: report.submittedBy?.name || '—', when: moment(report.submittedAt) })),
      this.mover.controls(congress, committee, moves, committee.name));
  }

  /** After a move: the item leaves (its reason form with it), its outcome stays in view. */
  settled(congressId, text) {
    this.el.querySelector(`li[data-congress="${CSS.escape(congressId)}"]`)?.remove();
    replace(this.message, note('ok', text, 'status'));
    this.pending = null; // the caller renders the list as it is now
  }

  /** A reason form closed: the list that arrived meanwhile is shown. */
  flush() {
    if (!this.pending) return;
    const pending = this.pending;
    this.pending = null;
    this.render(pending);
  }
}
