// Recording progress for one committee (reporters): a milestone, the results, a difficulty, and sending the
// congress's report up once it is complete. Each write sends the congress's version as loaded
// (expectedVersion) and one idempotency key per submission; typed errors show next to the field they name;
// a version conflict shows the congress as it is now and offers a retry. With no connection a write is
// kept on the phone with its key (outbox.js) and sent when the connection returns; the queue of this
// committee, and what the server refused of it, shows at the top of the page.

import { ApiError, errorCode, gql } from '../api.js';
import { h, nextId, replace } from '../dom.js';
import { clock, day, milestoneName, num, t, todayInVietnam } from '../i18n.js';
import { recall, remember } from '../offline.js';
import { discard, enqueue, outbox, queued, resend } from '../outbox.js';
import { CONGRESS_FOR_FORMS, RAISE_DIFFICULTY, RECORD_MILESTONE, RECORD_RESULTS } from '../queries.js';
import { Submission, clearFieldErrors, field, newKey, showFailure, showTypedError } from '../submit.js';
import { RANK, breadcrumb, committeeHref, empty, keptScreen, note, notFoundView, offlineNote, roleAt, section } from './common.js';
import { ReportMover, reportPanel, reportRights } from './report.js';

const LOCKING = new Set(['SUBMITTED', 'APPROVED']);

const STATUSES = ['NOT_STARTED', 'IN_PROGRESS', 'DONE'];
const CATEGORIES = ['PERSONNEL', 'DOCUMENTS', 'ORGANISATION', 'FACILITIES', 'OTHER'];
const COUNTS = ['delegatesExpected', 'delegatesPresent', 'membersElected', 'women', 'under40', 'ethnicMinority', 'delegatesToHigherCongress'];
const stepLabel = (m) => `${m.position}. ${milestoneName(m.milestone, m.name)} (${t(`status.${m.status}`)})`;
const invalid = (name, message) => ({ __typename: 'ValidationError', field: name, message });

export class UpdateView {
  constructor(main, session, code) {
    Object.assign(this, { main, session, code });
    this.controller = new AbortController();
    this.submissions = {
      milestone: new Submission(RECORD_MILESTONE, 'recordMilestone'),
      results: new Submission(RECORD_RESULTS, 'recordResults'),
      difficulty: new Submission(RAISE_DIFFICULTY, 'raiseDifficulty'),
    };
    this.mover = new ReportMover({
      announce: (text) => session.announce(text),
      moved: (congress, move, text) => {
        this.adopt({ ...this.congress, ...congress });
        this.reportBody.append(note('ok', text, 'status'));
      },
      stale: () => this.load(),
    });
    this.listeners = {
      change: () => this.renderQueue(),
      sent: (event) => this.queuedWasSent(event.detail),
    };
    for (const [name, listener] of Object.entries(this.listeners)) outbox.addEventListener(name, listener);
  }

  async load() {
    const screen = `forms:${this.code}`;
    let answer;
    try {
      answer = await gql(CONGRESS_FOR_FORMS, { code: this.code }, { signal: this.controller.signal });
      if (answer.data?.viewer) this.session.setViewer(answer.data.viewer); // before keeping: see offline.js
      if (answer.data?.committee) remember(screen, answer.data);
      this.offlineAt = null;
    } catch (error) {
      const kept = keptScreen(error, recall(screen));
      if (!kept) throw error;
      answer = { data: kept.data, errors: [] };
      this.offlineAt = kept.at;
    }
    const { data, errors } = answer;
    if (data?.viewer) this.session.setViewer(data.viewer);
    if (!data?.committee) {
      const code = errorCode(errors);
      if (code && code !== 'NOT_FOUND') throw new ApiError(code);
      return notFoundView(this.main);
    }
    this.committee = data.committee;
    this.congress = data.committee.congress;
    this.session.rememberIds([this.committee, ...this.committee.ancestors]);
    this.render();
  }

  destroy() {
    this.controller.abort();
    for (const [name, listener] of Object.entries(this.listeners)) outbox.removeEventListener(name, listener);
  }

  rerender() {
    if (this.committee) this.render();
  }

  render() {
    const c = this.committee;
    const title = t('form.title', { name: c.name });
    document.title = `${title} — ${t('app.title')}`;
    const head = [
      h('div', { class: 'page-head' }, breadcrumb(c.ancestors, c, committeeHref(c.code)), h('h1', { tabIndex: -1 }, title)),
      h('p', null, h('a', { href: committeeHref(c.code) }, `← ${t('form.back')}`)),
    ];
    if (roleAt(this.session.viewer, [...c.ancestors.map((a) => a.code), c.code]) < RANK.REPORTER) {
      return replace(this.main, ...head, h('p', { class: 'panel msg' }, t('form.readOnly')));
    }
    this.stateBody = h('div');
    this.reportBody = h('div');
    this.queueBody = h('div', { class: 'queue', 'aria-live': 'polite' });
    this.resultsSlot = h('div');
    replace(this.main, ...head,
      this.offlineAt ? offlineNote(this.offlineAt) : null,
      this.queueBody,
      h('div', { class: 'grid forms' },
        h('div', { class: 'col-main' },
          this.congress ? section('milestone-form', t('form.milestone.title'), this.milestoneForm()) : h('p', { class: 'panel' }, t('congress.noCongress')),
          this.congress ? section('results-form', t('form.results.title'), this.resultsSlot) : null,
          section('difficulty-form', t('form.difficulty.title'), this.difficultyForm())),
        h('div', { class: 'col-side' }, this.congress ? section('report', t('report.title'), this.reportBody) : null,
          section('state', t('form.steps'), this.stateBody))));
    this.renderReport();
    this.renderState();
    this.renderResults();
    this.renderQueue();
  }

  /** The congress as loaded (or as a success or a conflict showed it). */
  renderState(into = this.stateBody, congress = this.congress) {
    if (!congress) return replace(into, empty(t('congress.noCongress')));
    replace(into,
      h('p', null, h('span', { class: `badge status-${congress.status}` }, t(`status.${congress.status}`)),
        ` · ${t('form.version', { v: congress.version })}`, congress.deadline ? ` · ${t('congress.deadline')}: ${day(congress.deadline)}` : ''),
      h('ol', { class: 'rows state-steps' }, congress.milestones.map((m) => h('li', { class: `ms-${m.status}` },
        h('span', { class: 'step-name' }, milestoneName(m.milestone, m.name)),
        h('span', { class: 'row-meta' }, t(`status.${m.status}`), m.occurredOn ? ` · ${day(m.occurredOn)}` : '')))));
  }

  /** The report: its state, what it lacks, the submit button; while it is sent up, the figures are locked. */
  renderReport() {
    if (!this.congress) return;
    const locked = LOCKING.has(this.congress.report?.state);
    replace(this.reportBody,
      locked ? note('', t('report.locked')) : null,
      reportPanel(this.mover, this.congress, this.committee, reportRights(this.session.viewer, this.committee)));
  }

  adopt(congress) {
    if (!congress) return;
    this.congress = congress;
    this.renderReport();
    this.renderState();
    this.renderResults();
  }

  /**
   * Sends a form's input and shows the answer: payload, version conflict, typed error or failure.
   * With no connection the write is queued on the phone instead (`entered` says what it was).
   */
  async submit(form, status, submission, input, onSuccess, entered) {
    clearFieldErrors(form);
    if (!navigator.onLine) return this.queue(status, submission, input, entered);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    replace(status, note('', t('form.sending'), 'status'));
    const outcome = await submission.send(input);
    button.disabled = false;
    const result = outcome.ok;
    // Never reached the server: kept on the phone, with the key this send used.
    if (outcome.retry?.code === 'NETWORK') return this.queue(status, submission, input, entered);
    if (!result) return showFailure(status, outcome, () => this.submit(form, status, submission, input, onSuccess, entered));
    if (result.__typename === 'CongressPayload' || result.__typename === 'DifficultyPayload') return onSuccess(result);
    if (result.__typename !== 'CongressVersionConflict') return showTypedError(form, status, result);
    // Someone else wrote first: show the congress as it is now; the retry sends its version (a new key).
    this.adopt(result.congress);
    const now = h('div', { class: 'conflict-state' });
    this.renderState(now, result.congress);
    const retry = () => this.submit(form, status, submission, { ...input, expectedVersion: result.currentVersion }, onSuccess, entered);
    replace(status, h('div', { class: 'msg msg-error', role: 'alert' }, h('p', null, t('form.conflict', { v: result.currentVersion })), now,
      h('button', { type: 'button', class: 'button', onclick: retry }, t('form.retryWithCurrent'))));
  }

  saved(status, result) {
    const text = t(result.replayed ? 'form.replayed' : 'form.saved', { v: result.recordedVersion });
    replace(status, note('ok', text, 'status'));
    this.session.announce(text);
    this.adopt(result.congress);
  }

  milestoneForm() {
    const steps = this.congress.milestones;
    const next = steps.find((m) => m.status !== 'DONE') || steps.at(-1);
    const select = h('select', { name: 'milestone' }, steps.map((m) => h('option', { value: m.milestone, selected: m === next }, stepLabel(m))));
    const statusError = nextId('status-error');
    const radios = STATUSES.map((value) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'status', value, checked: value === 'DONE', 'aria-describedby': statusError }), ` ${t(`status.${value}`)}`));
    const today = todayInVietnam();
    const date = h('input', { type: 'date', name: 'occurredOn', value: today, max: today });
    const noteInput = h('textarea', { name: 'note', rows: 2, maxLength: 2000 });
    const status = h('div', { class: 'form-status' });
    const form = h('form', { novalidate: true },
      field(t('form.milestone'), select),
      h('fieldset', { class: 'field' }, h('legend', null, t('form.status')), h('div', { class: 'choices' }, radios),
        h('p', { class: 'field-error', id: statusError, hidden: true })),
      field(t('form.occurredOn'), date),
      field(t('form.note'), noteInput),
      h('p', null, h('button', { type: 'submit', class: 'button' }, t('form.submit'))),
      status);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = form.querySelector('input[name="status"]:checked')?.value || 'DONE';
      const input = {
        committeeId: this.committee.id,
        milestone: select.value,
        status: chosen,
        occurredOn: (chosen !== 'NOT_STARTED' && date.value) || null,
        note: noteInput.value.trim() || null,
        expectedVersion: this.congress.version,
      };
      const step = this.congress.milestones.find((m) => m.milestone === input.milestone);
      const entered = { kind: 'milestone', milestone: input.milestone, name: step?.name, status: chosen, occurredOn: input.occurredOn, note: input.note };
      this.submit(form, status, this.submissions.milestone, input, (result) => {
        this.saved(status, result);
        noteInput.value = '';
        for (const option of select.options) {
          const step = this.congress.milestones.find((m) => m.milestone === option.value);
          if (step) option.textContent = stepLabel(step); // each option shows its step's status
        }
      }, entered);
    });
    return form;
  }

  renderResults() {
    if (!this.congress || this.resultsSlot.querySelector('form')) return;
    if (this.congress.status !== 'HELD' && this.congress.status !== 'COMPLETED') {
      return replace(this.resultsSlot, h('p', { class: 'hint' }, t('form.results.notHeld')));
    }
    const known = this.congress.results || {};
    const inputs = COUNTS.map((name) => h('input', { type: 'number', name, min: 0, max: 100000, step: 1, inputMode: 'numeric', value: known[name] ?? '' }));
    const secretaryError = nextId('secretary-error');
    const secretary = h('input', { type: 'checkbox', name: 'secretaryDirectlyElected', checked: Boolean(known.secretaryDirectlyElected), 'aria-describedby': secretaryError });
    const status = h('div', { class: 'form-status' });
    const form = h('form', { novalidate: true },
      h('div', { class: 'numbers' }, inputs.map((input) => field(t(`form.${input.name}`), input))),
      h('div', { class: 'field' }, h('label', { class: 'choice' }, secretary, ` ${t('form.secretaryDirectlyElected')}`),
        h('p', { class: 'field-error', id: secretaryError, hidden: true })),
      h('p', null, h('button', { type: 'submit', class: 'button' }, t('form.submit'))),
      status);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      const input = { committeeId: this.committee.id, secretaryDirectlyElected: secretary.checked, expectedVersion: this.congress.version };
      for (const control of inputs) {
        if (!/^\d+$/.test(control.value.trim())) return showTypedError(form, status, invalid(control.name, t('form.required')));
        input[control.name] = Number(control.value);
      }
      const { committeeId, expectedVersion, ...figures } = input;
      this.submit(form, status, this.submissions.results, input, (result) => this.saved(status, result), { kind: 'results', figures });
    });
    replace(this.resultsSlot, form);
  }

  difficultyForm() {
    const title = h('input', { type: 'text', name: 'title', maxLength: 200, autocomplete: 'off' });
    const description = h('textarea', { name: 'description', rows: 4, maxLength: 5000 });
    const category = h('select', { name: 'category' }, CATEGORIES.map((value) => h('option', { value }, t(`cat.${value}`))));
    const status = h('div', { class: 'form-status' });
    const form = h('form', { novalidate: true },
      field(t('form.dtitle'), title), field(t('form.category'), category), field(t('form.description'), description),
      h('p', null, h('button', { type: 'submit', class: 'button' }, t('inbox.send'))),
      status);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      if (!title.value.trim()) return showTypedError(form, status, invalid('title', t('form.required')));
      const input = { committeeId: this.committee.id, title: title.value.trim(), description: description.value.trim(), category: category.value };
      this.submit(form, status, this.submissions.difficulty, input, (result) => {
        const text = t('form.raised', { name: result.difficulty?.committee?.name || this.committee.name });
        replace(status, note('ok', text, 'status'));
        this.session.announce(text);
        title.value = description.value = '';
      }, { kind: 'difficulty', title: input.title });
    });
    return form;
  }
}

// --- Writes kept on the phone (outbox.js): queued with no connection, sent when it returns. ---

const FIELDS = { milestone: 'recordMilestone', results: 'recordResults', difficulty: 'raiseDifficulty' };

Object.assign(UpdateView.prototype, {
  /** Keeps a write on the phone with the key made for it; the page shows it as if recorded, marked "waiting". */
  queue(status, submission, input, entered) {
    const idempotencyKey = submission.keyFor(input);
    submission.key = null; // the next entry is a new write
    enqueue({ field: FIELDS[entered.kind], input: { ...input, idempotencyKey }, committee: this.committee, entered });
    if (entered.kind !== 'difficulty') this.expectOwnWrite(entered);
    const text = t('queue.kept');
    replace(status, note('ok', text, 'status'));
    this.session.announce(text);
  },

  /**
   * The congress as this phone's queued write will leave it: the next write queued after it expects the
   * version it will make (each write adds one), so several entered offline go in one after the other;
   * a write by someone else meanwhile makes them all stale, and each shows as refused, to be decided on.
   */
  expectOwnWrite(entered) {
    const congress = { ...this.congress, version: this.congress.version + 1 };
    if (entered.kind === 'milestone') {
      congress.milestones = congress.milestones.map((m) => (m.milestone === entered.milestone
        ? { ...m, status: entered.status, occurredOn: entered.occurredOn } : m));
    }
    this.adopt(congress);
  },

  queuedWasSent({ item, result }) {
    if (item.committee.code !== this.committee?.code) return;
    // Only when it is ahead of what the page shows: other queued writes may still follow.
    if (result.congress && result.congress.version >= (this.congress?.version ?? 0)) this.adopt(result.congress);
    this.session.announce(t('queue.sent', { what: this.enteredText(item.entered) }));
  },

  enteredText(entered) {
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
  },

  /** What refused it, in the page's language; the server's own words follow as a detail. */
  refusalText(refusal) {
    const type = refusal.__typename;
    if (type === 'CongressVersionConflict') return t('queue.stale', { v: refusal.currentVersion });
    return type === 'Refused' ? t('err.generic') : t(`typed.${type}`);
  },

  renderQueue() {
    if (!this.queueBody || !this.committee) return;
    const items = queued(this.committee.code);
    if (!items.length) return replace(this.queueBody);
    const waiting = items.filter((item) => item.state === 'waiting').length;
    replace(this.queueBody, section('outbox', t('queue.title'),
      h('p', { class: 'hint' }, waiting ? t('queue.waiting', { n: num(waiting) }) : t('queue.refusedOnly')),
      h('ul', { class: 'cards' }, items.map((item) => this.queueItem(item)))));
  },

  queueItem(item) {
    const entered = h('p', null, h('strong', null, t('queue.entered')), ' ', this.enteredText(item.entered));
    const at = h('p', { class: 'meta' }, t('queue.at', { time: clock(item.queuedAt) }));
    if (item.state !== 'refused') {
      return h('li', { class: 'card queued', 'data-key': item.key }, h('span', { class: 'badge report-SUBMITTED' }, t('queue.badge')), entered, at);
    }
    const refusal = item.refusal || {};
    const current = refusal.__typename === 'CongressVersionConflict' ? h('div', { class: 'conflict-state' }) : null;
    if (current) this.renderState(current, refusal.congress);
    const again = () => {
      // A new write on the congress as it is now (the conflict says its version), with a new key.
      const version = refusal.currentVersion ?? this.congress?.version;
      resend(item.key, 'expectedVersion' in item.input ? { expectedVersion: version } : {}, newKey());
    };
    return h('li', { class: 'card queued refused', 'data-key': item.key },
      h('span', { class: 'badge report-RETURNED' }, t('queue.refusedBadge')),
      entered, at,
      h('div', { class: 'msg msg-error', role: 'alert' }, h('p', null, this.refusalText(refusal)),
        refusal.message ? h('p', { class: 'detail' }, t('typed.detail', { msg: refusal.message })) : null, current),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'button', onclick: again }, t('queue.again')),
        h('button', { type: 'button', class: 'button secondary', onclick: () => discard(item.key) }, t('queue.discard'))));
  },
});
