// A committee's dashboard: summary, its congress and report, timeline, milestones, the committees below
// (sortable), the reports waiting for approval, the inbox of difficulties, the overdue list, the
// recent-progress feed and the exports, kept up to date by two live streams (the summary, and the events
// below the committee).

import { ApiError, errorCode, gql } from '../api.js';
import { h, replace } from '../dom.js';
import { day, milestoneName, moment, num, pct, t } from '../i18n.js';
import { LiveStream } from '../live.js';
import { recall, remember } from '../offline.js';
import * as Q from '../queries.js';
import { drawTimeline } from './chart.js';
import { childrenTable } from './children.js';
import * as C from './common.js';
import { Inbox } from './inbox.js';
import { ApprovalInbox, ReportMover, reportPanel, reportRights } from './report.js';

const FEED_LIMIT = 50;
const REFRESH_AFTER_MS = 4000;
const TIMELINE_FRESH_MS = 10 * 60 * 1000;
const timelines = new Map();
const EMPTY_PAGE = { totalCount: 0, nodes: [], pageInfo: {} };

const feedFromHistory = (node) => ({
  key: `${node.congress?.id}:${node.version}`,
  at: node.recordedAt,
  committee: node.congress?.committee,
  kind: node.kind.toLowerCase(),
  milestone: node.change?.milestone,
  status: node.change?.status,
  deadline: node.change?.deadline,
});

function feedFromEvent(event) {
  const item = { at: event.recordedAt, committee: event.committee, fresh: true };
  if (event.difficulty) return { ...item, key: `${event.difficulty.id}:${event.difficulty.version}`, kind: 'difficulty', event: event.kind };
  const congress = event.congress || {};
  // A report's move keeps the congress's version: its own version tells two moves apart.
  const version = event.kind.startsWith('REPORT_') ? `r${congress.reportVersion}` : congress.version;
  return { ...item, key: `${congress.id}:${version}`, kind: event.kind.toLowerCase(), milestone: congress.milestone, deadline: congress.deadline };
}

export class Dashboard {
  constructor(main, session, code) {
    Object.assign(this, { main, session, code, streams: [], timers: {}, sort: null, loadingMore: {} });
    this.controller = new AbortController();
    this.search = { text: '', result: null };
    // Long lists start short (a phone's page is long enough); "show more" reveals, then fetches.
    const shown = window.matchMedia('(min-width: 960px)').matches ? 10 : 5;
    this.shown = { overdue: shown, feed: shown };
    this.inbox = new Inbox({
      canAct: () => this.role() >= C.RANK.REPORTER,
      canEscalate: () => this.committee.depth > 1, // nobody is above the root
      announce: (text) => session.announce(text),
      changed: (difficulty) => this.difficultyChanged(difficulty),
      stale: () => this.refreshInbox(),
      more: () => this.moreInbox(),
    }, shown);
    this.mover = new ReportMover({
      announce: (text) => session.announce(text),
      moved: (congress, move, text) => this.reportMoved(congress, text),
      stale: () => this.later('figures', () => this.refreshFigures(), 0),
      formClosed: () => this.approvals.flush(),
    });
    this.approvals = new ApprovalInbox({
      canDecide: () => this.role() >= C.RANK.APPROVER,
      more: () => this.moreApprovals(),
    }, this.mover, shown);
  }

  role() {
    return C.roleAt(this.session.viewer, [...this.committee.ancestors.map((a) => a.code), this.committee.code]);
  }

  query(document, variables) {
    return gql(document, variables, { signal: this.controller.signal });
  }

  // --- Loading: one request when the committee's id is known, two from a cold link; with no connection,
  // the screen as the phone kept it. ---

  async load() {
    const screen = `dashboard:${this.code}`;
    let data;
    try {
      data = await this.fetchScreen();
      this.offlineAt = null;
      if (data) {
        this.session.setViewer(data.viewer); // first: a new person's first answer forgets the last one's
        remember(screen, data);
      }
    } catch (error) {
      const kept = C.keptScreen(error, recall(screen));
      if (!kept) throw error;
      data = kept.data;
      this.offlineAt = kept.at;
      this.session.setViewer(data.viewer, { kept: true });
    }
    if (!data) return C.notFoundView(this.main);
    this.committee = data.committee;
    this.session.rememberIds([data.committee, ...data.committee.ancestors, ...data.committee.children.nodes]);
    this.acceptLists(data);
    this.render();
    // Kept data is not followed live: the page loads again when the connection returns (app.js).
    if (!this.offlineAt) this.startLive();
  }

  /** The screen's data from the server, or null when the committee is not there (or not in scope). */
  async fetchScreen() {
    const knownId = this.session.ids.get(this.code);
    let data = null;
    if (knownId) {
      const answer = await this.query(Q.DASHBOARD, { code: this.code, id: knownId });
      if (answer.data?.committee?.id === knownId) data = answer.data;
      else if (!answer.data) this.throwUnlessNotFound(answer.errors);
    }
    if (!data) {
      const first = await this.query(Q.DASHBOARD_BY_CODE, { code: this.code });
      if (!first.data?.committee) {
        this.throwUnlessNotFound(first.errors);
        if (first.data?.viewer) this.session.setViewer(first.data.viewer);
        return null;
      }
      const lists = await this.query(Q.LISTS_ONLY, { id: first.data.committee.id });
      if (!lists.data) this.throwUnlessNotFound(lists.errors);
      data = { ...first.data, ...lists.data };
    }
    return data;
  }

  throwUnlessNotFound(errors) {
    const code = errorCode(errors);
    if (code && code !== 'NOT_FOUND') throw new ApiError(code, '', { requestId: errors[0]?.extensions?.requestId });
  }

  acceptLists(data) {
    this.overdue = data.overdue || EMPTY_PAGE;
    this.inboxConnection = data.inbox || EMPTY_PAGE;
    this.feed = (data.recent?.nodes || []).map(feedFromHistory);
  }

  destroy() {
    this.controller.abort();
    for (const stream of this.streams) stream.stop();
    this.streams = [];
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    this.observer?.disconnect();
    this.resizer?.disconnect();
  }

  // --- Rendering: each section has a body that is redrawn alone. ---

  render() {
    const c = this.committee;
    document.title = `${c.name} — ${t('app.title')}`;
    this.slots = {};
    const slot = (name, title) => {
      const body = h('div', { class: 'section-body' });
      this.slots[name] = { el: C.section(name, title, body), body };
      return this.slots[name].el;
    };
    const jump = (name, label) => h('li', null, h('button', { type: 'button', class: 'chip', onclick: () => this.jumpTo(name) }, label));
    replace(
      this.main,
      this.offlineAt ? C.offlineNote(this.offlineAt) : null,
      h('div', { class: 'page-head' }, C.breadcrumb(c.ancestors, c), h('h1', { tabIndex: -1 }, c.name), h('p', { class: 'sub' }, `${t(`kind.${c.kind}`)} · ${c.code}`)),
      this.searchForm(),
      h('nav', { class: 'jump', 'aria-label': t('jump.label') }, h('ul', null,
        jump('children', t('children.title')), this.hasApprovals() ? jump('approvals', t('approvals.title')) : null, jump('inbox', t('inbox.title')), jump('overdue', t('overdue.title')), jump('feed', t('feed.title')))),
      h('div', { class: 'grid' },
        h('div', { class: 'col-main' },
          slot('summary', t('sum.title', { term: (c.progress?.term || '').replace(/-/g, '\u2011') })), slot('congress', t('congress.title')),
          slot('children', t('children.title')), slot('chart', t('chart.title')), slot('milestones', t('ms.title'))),
        h('div', { class: 'col-side' },
          this.hasApprovals() ? slot('approvals', t('approvals.title')) : null, slot('inbox', t('inbox.title')), slot('overdue', t('overdue.title')), slot('feed', t('feed.title')), slot('export', t('export.title')))),
    );
    for (const part of ['Summary', 'Congress', 'Children', 'Milestones', 'Approvals', 'Inbox', 'Overdue', 'Feed', 'Export']) this[`render${part}`]();
    this.watchChart();
  }

  rerender() {
    if (this.committee) this.render();
  }

  jumpTo(name) {
    const heading = this.slots[name].el.querySelector('h2');
    const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    heading.scrollIntoView({ behavior: smooth ? 'smooth' : 'auto', block: 'start' });
    heading.focus({ preventScroll: true });
  }

  renderSummary() {
    const p = this.committee.progress;
    if (!p) return replace(this.slots.summary.body, C.empty(t('chart.empty')));
    const stat = (label, value, tone) => h('div', { class: ['stat', tone] }, h('dt', null, label), h('dd', null, value));
    replace(this.slots.summary.body, h('dl', { class: 'stats' },
      stat(t('sum.total'), num(p.total)),
      stat(t('sum.held'), num(p.congressesHeld)),
      stat(t('sum.completed'), num(p.congressesCompleted)),
      stat(t('sum.rate'), pct(p.completionRate), 'accent'),
      stat(t('sum.overdue'), num(p.overdue), p.overdue && 'bad'),
      stat(t('sum.dueSoon'), num(p.dueSoon), p.dueSoon && 'warn')),
    p.reports ? h('h3', { class: 'stats-title' }, t('sum.reports')) : null,
    p.reports ? h('dl', { class: 'stats reports' },
      stat(t('report.SUBMITTED'), num(p.reports.submitted), p.reports.submitted && 'warn'),
      stat(t('report.APPROVED'), num(p.reports.approved), 'accent'),
      stat(t('report.RETURNED'), num(p.reports.returned + p.reports.reopened)),
      stat(t('sum.reportsOverdue'), num(p.reports.overdue), p.reports.overdue && 'bad')) : null);
  }

  renderCongress() {
    const congress = this.committee.congress;
    const body = this.slots.congress.body;
    if (!congress) return replace(body, C.empty(t('congress.noCongress')));
    const row = (label, value) => h('div', null, h('dt', null, label), h('dd', null, value));
    replace(body,
      h('dl', { class: 'facts' },
        row(t('congress.status'), h('span', { class: `badge status-${congress.status}` }, t(`status.${congress.status}`))),
        row(t('congress.deadline'), congress.deadline ? day(congress.deadline) : t('congress.none')),
        row(t('congress.heldOn'), congress.heldOn ? day(congress.heldOn) : t('congress.none')),
        congress.daysLate ? row(t('sum.overdue'), h('span', { class: 'bad' }, t('congress.late', { n: num(congress.daysLate) }))) : null),
      this.role() >= C.RANK.REPORTER
        ? h('p', null, h('a', { class: 'button', href: `${C.committeeHref(this.committee.code)}/update` }, t('congress.update')))
        : null,
      h('h3', null, t('report.title')),
      reportPanel(this.mover, congress, this.committee, reportRights(this.session.viewer, this.committee)));
  }

  /** The approvals list is a level's with committees below it. */
  hasApprovals() {
    return Boolean(this.committee.children.totalCount);
  }

  renderApprovals() {
    if (!this.slots.approvals) return;
    const body = this.slots.approvals.body;
    C.keepFocus(body, () => {
      if (body.firstChild !== this.approvals.el) replace(body, this.approvals.el);
      this.approvals.render(this.committee.approvals, this.loadingMore.approvals);
    });
  }

  /** A move made here: the dashboard's own congress shows it, or its item leaves the approvals list. */
  reportMoved(congress, text) {
    if (!congress) return;
    if (congress.id === this.committee.congress?.id) {
      this.committee.congress = congress;
      this.renderCongress();
      this.slots.congress.body.append(C.note('ok', text, 'status'));
      return;
    }
    const before = this.committee.approvals;
    const nodes = before.nodes.filter((node) => node.id !== congress.id);
    this.committee.approvals = { ...before, nodes, totalCount: before.totalCount - (before.nodes.length - nodes.length) };
    this.approvals.settled(congress.id, text);
    this.renderApprovals();
  }

  renderChildren() {
    const body = this.slots.children.body;
    C.keepFocus(body, () => replace(body, childrenTable(this.committee.children, this.sort, {
      loadingMore: this.loadingMore.children,
      onSort: (sort) => {
        this.sort = sort;
        this.renderChildren();
      },
      onMore: () => this.moreChildren(),
    })));
  }

  renderMilestones() {
    const steps = this.committee.progress?.byMilestone || [];
    if (!steps.length) return replace(this.slots.milestones.body, C.empty(t('chart.empty')));
    replace(this.slots.milestones.body, h('ol', { class: 'steps' }, steps.map((m) => {
      const total = m.done + m.inProgress + m.notStarted || 1;
      const bar = h('span', { class: 'stack', 'aria-hidden': 'true' }, h('span', { class: 'done' }), h('span', { class: 'doing' }));
      bar.children[0].style.width = `${(m.done / total) * 100}%`;
      bar.children[1].style.width = `${(m.inProgress / total) * 100}%`;
      return h('li', null, h('span', { class: 'step-name' }, milestoneName(m.milestone, m.name)), bar,
        h('span', { class: 'step-line' }, t('ms.line', { done: num(m.done), inProgress: num(m.inProgress), notStarted: num(m.notStarted) })));
    })));
  }

  renderInbox() {
    const body = this.slots.inbox.body;
    C.keepFocus(body, () => {
      if (body.firstChild !== this.inbox.el) replace(body, this.inbox.el);
      this.inbox.render(this.inboxConnection, this.loadingMore.inbox);
    });
  }

  renderOverdue() {
    const { body } = this.slots.overdue;
    const list = this.overdue;
    if (!list.nodes.length) return replace(body, C.empty(t('overdue.none')));
    const shown = Math.min(this.shown.overdue, list.nodes.length);
    C.keepFocus(body, () => replace(body,
      h('p', { class: 'count' }, t('overdue.count', { n: num(list.totalCount) })),
      h('ul', { class: 'rows' }, list.nodes.slice(0, shown).map((congress) => h('li', null,
        congress.committee ? h('a', { href: C.committeeHref(congress.committee.code) }, congress.committee.name) : '—',
        h('span', { class: 'row-meta' }, h('span', { class: 'bad' }, t('congress.late', { n: num(congress.daysLate) })),
          ` · ${t('overdue.deadline', { date: day(congress.deadline) })} · ${t(`status.${congress.status}`)}`)))),
      shown < list.nodes.length || list.pageInfo?.hasNextPage
        ? C.moreButton(`${t('children.more')} (${num(shown)}/${num(list.totalCount)})`, () => this.moreOverdue(),
          { disabled: this.loadingMore.overdue, key: 'overdue-more' })
        : null));
  }

  feedText(item, names) {
    if (item.kind === 'difficulty') return t(`feed.${item.event}`);
    if (item.kind.startsWith('report_')) return t(`feed.${item.kind}`);
    if (item.kind === 'results') return t('feed.results');
    if (item.kind === 'deadline') return t('feed.deadline', { date: day(item.deadline) });
    const step = milestoneName(item.milestone, names[item.milestone]);
    // A live event names the step, not its status: the history does.
    return item.status ? t('feed.milestone', { step, status: t(`status.${item.status}`) }) : t('feed.milestoneLive', { step });
  }

  renderFeed() {
    const { body } = this.slots.feed;
    if (!this.feed.length) return replace(body, C.empty(t('feed.none')));
    const names = Object.fromEntries((this.committee.progress?.byMilestone || []).map((m) => [m.milestone, m.name]));
    C.keepFocus(body, () => replace(body,
      h('ol', { class: 'rows feed-list' }, this.feed.slice(0, this.shown.feed).map((item) => h('li', { class: item.fresh && 'fresh' },
        item.fresh ? h('span', { class: 'badge new' }, t('feed.new')) : null,
        h('span', { class: 'feed-what' }, this.feedText(item, names)),
        h('span', { class: 'row-meta' }, item.committee ? h('a', { href: C.committeeHref(item.committee.code) }, item.committee.name) : null,
          ' · ', h('time', { datetime: item.at }, moment(item.at)))))),
      this.shown.feed < this.feed.length
        ? C.moreButton(t('children.more'), () => {
          this.shown.feed += 20;
          this.renderFeed();
        }, { key: 'feed-more' })
        : null));
  }

  renderExport() {
    const c = this.committee;
    const params = new URLSearchParams({ under: c.code });
    if (!c.children.totalCount) params.set('depth', String(c.depth)); // nothing below: its own row
    const link = (ext, label) => h('a', { class: 'button secondary', href: `/reports/progress.${ext}?${params}`, download: '' }, label);
    replace(this.slots.export.body, h('p', { class: 'hint' }, t('export.help')),
      h('p', { class: 'actions' }, link('csv', t('export.csv')), link('xlsx', t('export.xlsx'))));
  }

  // --- The timeline: asked for once on screen (it costs as much as the rest of the page), then cached. ---

  watchChart() {
    const body = this.slots.chart.body;
    this.observer?.disconnect();
    this.resizer?.disconnect();
    const cached = timelines.get(this.committee.id);
    if (cached && Date.now() - cached.at < TIMELINE_FRESH_MS) this.drawChart();
    else {
      replace(body, h('p', { class: 'loading' }, t('app.loading')));
      this.observer = new IntersectionObserver((entries) => {
        if (!entries.some((entry) => entry.isIntersecting)) return;
        this.observer.disconnect();
        this.loadTimeline();
      });
      this.observer.observe(body);
    }
    let width = body.clientWidth;
    this.resizer = new ResizeObserver(() => {
      if (Math.abs(body.clientWidth - width) > 8) {
        width = body.clientWidth;
        this.drawChart();
      }
    });
    this.resizer.observe(body);
  }

  async loadTimeline() {
    try {
      const { data } = await this.query(Q.TIMELINE, { id: this.committee.id });
      timelines.set(this.committee.id, { points: data?.committee?.progress?.timeline || [], at: Date.now() });
      this.drawChart();
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(this.slots.chart.body, C.note('error', C.errorMessage(error)),
        h('button', { type: 'button', class: 'button secondary', onclick: () => this.loadTimeline() }, t('chart.load')));
    }
  }

  drawChart() {
    const cached = timelines.get(this.committee.id);
    if (cached) drawTimeline(this.slots.chart.body, cached.points, this.committee.progress?.total || 0);
  }

  // --- Search: accent-insensitive on the server, anywhere in the viewer's scope. ---

  searchForm() {
    const input = h('input', { type: 'search', id: 'committee-search', name: 'q', autocomplete: 'off', spellcheck: false,
      placeholder: t('search.placeholder'), value: this.search.text, maxLength: 200 });
    const results = h('div', { class: 'search-results' });
    const status = h('p', { class: 'visually-hidden', role: 'status' });
    let timer = null;
    let controller = null;
    const run = async () => {
      clearTimeout(timer);
      controller?.abort();
      const text = (this.search.text = input.value).trim();
      this.search.result = null;
      if (text.length < 2) {
        replace(results);
        status.textContent = text ? t('search.short') : '';
        return;
      }
      controller = new AbortController();
      try {
        const { data } = await gql(Q.SEARCH, { q: text }, { signal: controller.signal });
        this.search.result = data.committees;
        this.session.rememberIds(data.committees.nodes);
        this.showResults(results, status);
      } catch (error) {
        if (error.name !== 'AbortError') replace(results, C.note('error', C.errorMessage(error)));
      }
    };
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(run, 350);
    });
    const form = h('form', { class: 'search', role: 'search', onsubmit: (event) => (event.preventDefault(), run()) },
      h('label', { for: 'committee-search' }, t('search.label')),
      h('div', { class: 'search-row' }, input, h('button', { type: 'submit', class: 'button' }, t('search.submit'))),
      status, results);
    if (this.search.result) this.showResults(results, status);
    return form;
  }

  showResults(results, status) {
    const found = this.search.result;
    status.textContent = found.totalCount ? t('search.count', { n: num(found.totalCount) }) : t('search.none');
    replace(results,
      found.nodes.length
        ? h('ul', { class: 'rows' }, found.nodes.map((c) => h('li', null, h('a', { href: C.committeeHref(c.code) }, c.name),
          h('span', { class: 'row-meta' }, `${t(`kind.${c.kind}`)} · ${c.code}`))))
        : C.empty(t('search.none')),
      found.pageInfo.hasNextPage ? h('p', { class: 'hint' }, t('search.more')) : null);
  }

  // --- Further pages. ---

  async more(name, render, run) {
    if (this.loadingMore[name]) return;
    this.loadingMore[name] = true;
    render();
    try {
      await run();
    } catch (error) {
      if (error.name !== 'AbortError') this.session.announce(C.errorMessage(error));
    }
    this.loadingMore[name] = false;
    render();
  }

  moreChildren() {
    const children = this.committee.children;
    return this.more('children', () => this.renderChildren(), async () => {
      const { data } = await this.query(Q.CHILDREN_PAGE, { id: this.committee.id, after: children.pageInfo.endCursor });
      const page = data.committee.children;
      this.session.rememberIds(page.nodes);
      this.committee.children = { ...page, nodes: [...children.nodes, ...page.nodes] };
    });
  }

  moreOverdue() {
    const fetch = this.shown.overdue >= this.overdue.nodes.length;
    this.shown.overdue += 20;
    if (!fetch) return this.renderOverdue();
    return this.more('overdue', () => this.renderOverdue(), async () => {
      const { data } = await this.query(Q.OVERDUE_PAGE, { id: this.committee.id, after: this.overdue.pageInfo.endCursor });
      this.overdue = { ...data.overdue, nodes: [...this.overdue.nodes, ...data.overdue.nodes] };
    });
  }

  moreApprovals() {
    const current = this.committee.approvals;
    return this.more('approvals', () => this.renderApprovals(), async () => {
      const { data } = await this.query(Q.APPROVALS_PAGE, { id: this.committee.id, after: current.pageInfo.endCursor });
      const page = data.committee.approvals;
      this.committee.approvals = { ...page, nodes: [...current.nodes, ...page.nodes] };
    });
  }

  moreInbox() {
    const current = this.inboxConnection;
    return this.more('inbox', () => this.renderInbox(), async () => {
      const { data } = await this.query(Q.INBOX, { id: this.committee.id, after: current.pageInfo.endCursor });
      this.inboxConnection = { ...data.inbox, nodes: [...current.nodes, ...data.inbox.nodes] };
    });
  }

  // --- Live: the summary and the events below this committee (the page's two streams). ---

  startLive() {
    const id = this.committee.id;
    const onEnd = () => this.lostScope();
    this.streams = [
      new LiveStream({ query: Q.LIVE_SUMMARY, variables: { id }, onData: (data) => this.summaryChanged(data.progress), onEnd }),
      new LiveStream({
        query: Q.LIVE_EVENTS,
        variables: { id },
        resumable: true,
        cursorOf: (data) => data.progressEvents?.cursor,
        onData: (data) => this.eventArrived(data.progressEvents),
        onResync: () => this.resync(),
        onEnd,
      }),
    ].map((stream) => stream.start());
  }

  summaryChanged(progress) {
    const before = JSON.stringify(this.committee.progress);
    this.committee.progress = { ...this.committee.progress, ...progress };
    if (JSON.stringify(this.committee.progress) === before) return; // the first message repeats what was loaded
    this.renderSummary();
    this.renderMilestones();
    const points = timelines.get(this.committee.id)?.points;
    if (points?.length) {
      points[points.length - 1] = { ...points.at(-1), congressesHeld: progress.congressesHeld }; // the last point is today
      this.drawChart();
    }
    this.session.noteLiveUpdate();
  }

  eventArrived(event) {
    if (!event) return;
    const item = feedFromEvent(event);
    if (!this.feed.some((existing) => existing.key === item.key)) {
      this.feed = [item, ...this.feed].slice(0, FEED_LIMIT);
      this.renderFeed();
      this.session.noteLiveUpdate();
    }
    // What the events do not carry is read again, at most once every few seconds.
    if (event.difficulty) this.later('inbox', () => this.refreshInbox());
    // A report waiting for a decision is news to an approver: read it again sooner.
    else this.later('figures', () => this.refreshFigures(), event.kind.startsWith('REPORT_') ? 1000 : REFRESH_AFTER_MS);
  }

  later(name, run, delay = REFRESH_AFTER_MS) {
    this.timers[name] ??= setTimeout(() => {
      this.timers[name] = null;
      run().catch(() => {}); // the next event or reconnection tries again
    }, delay);
  }

  async refreshFigures() {
    const first = Math.min(100, Math.max(20, this.committee.children.nodes.length));
    const { data } = await this.query(Q.REFRESH, { id: this.committee.id, first });
    if (!data?.committee) return;
    const { congress, approvals, children } = data.committee;
    // An open form (a reason being typed) is not redrawn under the official's fingers.
    const typing = this.slots.congress.body.querySelector('textarea');
    Object.assign(this.committee, { congress, approvals, children });
    this.overdue = data.overdue;
    if (!typing) this.renderCongress();
    this.renderApprovals();
    this.renderChildren();
    this.renderOverdue();
  }

  async refreshInbox() {
    const { data } = await this.query(Q.INBOX, { id: this.committee.id });
    if (!data?.inbox) return;
    this.inboxConnection = data.inbox;
    this.renderInbox();
  }

  /** The events cannot be resumed: read everything again, then live from now. */
  async resync() {
    try {
      const [lists] = await Promise.all([this.query(Q.LISTS_ONLY, { id: this.committee.id }), this.refreshFigures()]);
      if (!lists.data) return;
      this.acceptLists(lists.data);
      this.renderOverdue();
      this.renderInbox();
      this.renderFeed();
    } catch {
      /* the connection indicator shows it; the stream goes on */
    }
  }

  /** A stream ended with NOT_FOUND: the committee left the viewer's scope (or moved). */
  lostScope() {
    if (this.controller.signal.aborted) return;
    this.destroy();
    this.controller = new AbortController();
    this.load().catch(() => C.notFoundView(this.main));
  }

  difficultyChanged(difficulty) {
    const stays = difficulty.status === 'OPEN' && difficulty.handlingCommittee?.id === this.committee.id;
    const before = this.inboxConnection;
    const nodes = before.nodes.filter((d) => d.id !== difficulty.id || stays).map((d) => (d.id === difficulty.id ? difficulty : d));
    this.inboxConnection = { ...before, nodes, totalCount: before.totalCount - (before.nodes.length - nodes.length) };
    this.renderInbox();
  }
}
