// Recording progress for one committee (reporters): a milestone, the results, a difficulty, and sending the
// congress's report up once it is complete. Each write sends the congress's version as loaded
// (expectedVersion) and one idempotency key per submission; typed errors show next to the field they name;
// a version conflict shows the congress as it is now and offers a retry.

import { ApiError, errorCode, gql } from '../api.js';
import { h, nextId, replace } from '../dom.js';
import { day, milestoneName, t, todayInVietnam } from '../i18n.js';
import { CONGRESS_FOR_FORMS, RAISE_DIFFICULTY, RECORD_MILESTONE, RECORD_RESULTS } from '../queries.js';
import { Submission, clearFieldErrors, field, showFailure, showTypedError } from '../submit.js';
import { RANK, breadcrumb, committeeHref, empty, note, notFoundView, roleAt, section } from './common.js';
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
  }

  async load() {
    const { data, errors } = await gql(CONGRESS_FOR_FORMS, { code: this.code }, { signal: this.controller.signal });
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
    this.resultsSlot = h('div');
    replace(this.main, ...head,
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

  /** Sends a form's input and shows the answer: payload, version conflict, typed error or failure. */
  async submit(form, status, submission, input, onSuccess) {
    clearFieldErrors(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    replace(status, note('', t('form.sending'), 'status'));
    const outcome = await submission.send(input);
    button.disabled = false;
    const result = outcome.ok;
    if (!result) return showFailure(status, outcome, () => this.submit(form, status, submission, input, onSuccess));
    if (result.__typename === 'CongressPayload' || result.__typename === 'DifficultyPayload') return onSuccess(result);
    if (result.__typename !== 'CongressVersionConflict') return showTypedError(form, status, result);
    // Someone else wrote first: show the congress as it is now; the retry sends its version (a new key).
    this.adopt(result.congress);
    const now = h('div', { class: 'conflict-state' });
    this.renderState(now, result.congress);
    const retry = () => this.submit(form, status, submission, { ...input, expectedVersion: result.currentVersion }, onSuccess);
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
      this.submit(form, status, this.submissions.milestone, input, (result) => {
        this.saved(status, result);
        noteInput.value = '';
        for (const option of select.options) {
          const step = this.congress.milestones.find((m) => m.milestone === option.value);
          if (step) option.textContent = stepLabel(step); // each option shows its step's status
        }
      });
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
      this.submit(form, status, this.submissions.results, input, (result) => this.saved(status, result));
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
      });
    });
    return form;
  }
}
