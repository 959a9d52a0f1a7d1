// Recording progress for one committee (reporters): a milestone, the results, a difficulty, and sending the
// congress's report up once it is complete. Each write sends the congress's version as loaded
// (expectedVersion) and one idempotency key per submission; typed errors show next to the field they name;
// a version conflict shows the congress as it is now and offers a retry. With no connection a write is
// kept on the phone with its key (outbox.js) and sent when the connection returns; the queue of this
// committee, and what the server refused of it, shows at the top of the page.

import { ApiError, errorCode, gql } from '../api.js';
import { h, nextId, replace } from '../dom.js';
import { milestoneName, t, todayInVietnam } from '../i18n.js';
import { recall, remember } from '../offline.js';
import { enqueue, noteServerVersion, outbox, queued } from '../outbox.js';
import { CONGRESS_FOR_FORMS, RAISE_DIFFICULTY, RECORD_MILESTONE, RECORD_RESULTS } from '../queries.js';
import { Submission, clearFieldErrors, field, showFailure, showTypedError } from '../submit.js';
import { RANK, breadcrumb, committeeHref, empty, keptScreen, note, notFoundView, offlineNote, roleAt, section } from './common.js';
import { congressSteps, enteredText, queuePanel } from './queue.js';
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
      refused: (event) => this.queuedWasRefused(event.detail),
    };
    for (const [name, listener] of Object.entries(this.listeners)) outbox.addEventListener(name, listener);
  }

  async load() {
    const { data, errors } = await this.fetchScreen();
    if (!data?.committee) {
      const code = errorCode(errors);
      if (code && code !== 'NOT_FOUND') throw new ApiError(code);
      return notFoundView(this.main);
    }
    this.committee = data.committee;
    this.congress = this.withOwnWrites(data.committee.congress);
    this.session.rememberIds([this.committee, ...this.committee.ancestors]);
    this.render();
  }

  /** The screen's data: from the server (and kept), or as the phone kept it when there is no connection. */
  async fetchScreen() {
    const screen = `forms:${this.code}`;
    try {
      const answer = await gql(CONGRESS_FOR_FORMS, { code: this.code }, { signal: this.controller.signal });
      if (answer.data?.viewer) this.session.setViewer(answer.data.viewer); // before keeping: see offline.js
      if (answer.data?.committee) {
        remember(screen, answer.data);
        noteServerVersion(this.code, answer.data.committee.congress);
      }
      this.offlineAt = null;
      return answer;
    } catch (error) {
      const kept = keptScreen(error, recall(screen));
      if (!kept) throw error;
      this.session.setViewer(kept.data.viewer, { kept: true });
      this.offlineAt = kept.at;
      return { data: kept.data, errors: [] };
    }
  }

  /**
   * The connection is back (or the server refused a write this page counted on): the congress as the
   * server has it now, with this phone's writes still waiting on top. The forms keep what is typed in them.
   */
  async refresh() {
    const { data } = await this.fetchScreen();
    if (!data?.committee) return;
    this.main.querySelector('.offline-note')?.remove();
    this.adopt(this.withOwnWrites(data.committee.congress));
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
    // The writes this phone keeps for the committee show whatever the role is now: a role lost since
    // they were entered leaves them refused, to be let go.
    this.queueBody = h('div', { class: 'queue', 'aria-live': 'polite' });
    if (roleAt(this.session.viewer, [...c.ancestors.map((a) => a.code), c.code]) < RANK.REPORTER) {
      replace(this.main, ...head, this.queueBody, h('p', { class: 'panel msg' }, t('form.readOnly')));
      return this.renderQueue();
    }
    this.stateBody = h('div');
    this.reportBody = h('div');
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
    replace(into, ...congressSteps(congress));
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
  async submit(form, status, submission, input, onSuccess, entered, onKept) {
    clearFieldErrors(form);
    if (!navigator.onLine) return this.queue(status, submission, input, entered, onKept);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    replace(status, note('', t('form.sending'), 'status'));
    const outcome = await submission.send(input);
    button.disabled = false;
    const result = outcome.ok;
    // Never reached the server: kept on the phone, with the key this send used.
    if (outcome.retry?.code === 'NETWORK') return this.queue(status, submission, input, entered, onKept);
    if (!result) return showFailure(status, outcome, () => this.submit(form, status, submission, input, onSuccess, entered, onKept));
    if (result.__typename === 'CongressPayload' || result.__typename === 'DifficultyPayload') return onSuccess(result);
    if (result.__typename !== 'CongressVersionConflict') return showTypedError(form, status, result);
    // Someone else wrote first: show the congress as it is now; the retry sends its version (a new key).
    this.adopt(this.withOwnWrites(result.congress));
    const now = h('div', { class: 'conflict-state' });
    this.renderState(now, result.congress);
    const retry = () => this.submit(form, status, submission, { ...input, expectedVersion: result.currentVersion }, onSuccess, entered, onKept);
    replace(status, h('div', { class: 'msg msg-error', role: 'alert' }, h('p', null, t('form.conflict', { v: result.currentVersion })), now,
      h('button', { type: 'button', class: 'button', onclick: retry }, t('form.retryWithCurrent'))));
  }

  saved(status, result) {
    const text = t(result.replayed ? 'form.replayed' : 'form.saved', { v: result.recordedVersion });
    replace(status, note('ok', text, 'status'));
    this.session.announce(text);
    noteServerVersion(this.code, result.congress);
    this.adopt(this.withOwnWrites(result.congress));
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
      // Recorded or kept on the phone, the form is ready for the next step.
      const ready = () => {
        noteInput.value = '';
        for (const option of select.options) {
          const step = this.congress.milestones.find((m) => m.milestone === option.value);
          if (step) option.textContent = stepLabel(step); // each option shows its step's status
        }
      };
      this.submit(form, status, this.submissions.milestone, input, (result) => {
        this.saved(status, result);
        ready();
      }, entered, ready);
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
      // Raised or kept on the phone, the form is emptied: a second tap is a second difficulty.
      const emptied = () => (title.value = description.value = '');
      this.submit(form, status, this.submissions.difficulty, input, (result) => {
        const text = t('form.raised', { name: result.difficulty?.committee?.name || this.committee.name });
        replace(status, note('ok', text, 'status'));
        this.session.announce(text);
        emptied();
      }, { kind: 'difficulty', title: input.title }, emptied);
    });
    return form;
  }
}

// --- Writes kept on the phone (outbox.js): queued with no connection, sent when it returns. ---

const FIELDS = { milestone: 'recordMilestone', results: 'recordResults', difficulty: 'raiseDifficulty' };

/**
 * The congress as a write this phone keeps will leave it, and whether it changes anything: the server
 * makes a new version only for a change (the same step, date and note again, or the same figures, is
 * no write), so the next write entered offline expects the version this one will make.
 */
function afterOwnWrite(congress, entered) {
  if (entered.kind === 'milestone') {
    const step = congress.milestones.find((m) => m.milestone === entered.milestone);
    // A step never recorded has no version: recording it, even as "not started", is a write.
    const same = step && step.version != null && step.status === entered.status
      && (step.occurredOn || null) === (entered.occurredOn || null) && (step.note || null) === (entered.note || null);
    if (same) return congress;
    const milestones = congress.milestones.map((m) => (m.milestone === entered.milestone
      ? { ...m, status: entered.status, occurredOn: entered.occurredOn, note: entered.note, version: congress.version + 1 } : m));
    return { ...congress, milestones, version: congress.version + 1 };
  }
  if (entered.kind === 'results') {
    const known = congress.results || {};
    const same = Object.entries(entered.figures).every(([name, value]) => known[name] === value);
    return same ? congress : { ...congress, results: { ...known, ...entered.figures }, version: congress.version + 1 };
  }
  return congress;
}

Object.assign(UpdateView.prototype, {
  /** The congress with this phone's waiting writes to it applied, in the order entered. */
  withOwnWrites(congress) {
    if (!congress) return congress;
    return queued(this.code)
      .filter((item) => item.state === 'waiting' && item.field !== 'raiseDifficulty')
      .reduce((current, item) => afterOwnWrite(current, item.entered), congress);
  },

  /** Keeps a write on the phone with the key made for it; the page shows it as if recorded, marked "waiting". */
  queue(status, submission, input, entered, onKept) {
    const idempotencyKey = submission.keyFor(input);
    try {
      enqueue({ field: FIELDS[entered.kind], input: { ...input, idempotencyKey }, committee: this.committee, entered });
    } catch {
      return replace(status, note('error', t('queue.full'), 'alert')); // the key stays for a retry
    }
    submission.key = null; // the next entry is a new write
    if (entered.kind !== 'difficulty') this.adopt(afterOwnWrite(this.congress, entered));
    onKept?.();
    const text = t('queue.kept');
    replace(status, note('ok', text, 'status'));
    this.session.announce(text);
  },

  queuedWasSent({ item, result }) {
    if (item.committee.code !== this.committee?.code) return;
    // The server's congress, with what still waits on top of it.
    if (result.congress && item.field !== 'raiseDifficulty') this.adopt(this.withOwnWrites(result.congress));
    this.session.announce(t('queue.sent', { what: enteredText(item.entered) }));
  },

  /** The page counted on the refused write: it shows the congress as the server has it again. */
  queuedWasRefused({ item, refusal }) {
    if (item.committee.code !== this.committee?.code || item.field === 'raiseDifficulty') return;
    if (refusal.congress) this.adopt(this.withOwnWrites(refusal.congress));
    else this.refresh().catch(() => {}); // the queue shows the refusal either way
  },

  renderQueue() {
    if (this.queueBody && this.committee) replace(this.queueBody, queuePanel(this.code));
  },
});
