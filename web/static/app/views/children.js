// The committees below the current one: a table sortable by name, completion and overdue (in the loaded rows).

import { h } from '../dom.js';
import { lang, num, pct, t } from '../i18n.js';
import { committeeHref, empty, moreButton } from './common.js';

// The first press sorts the useful way round: names A→Z, the least complete first, the most overdue first.
const COLUMNS = [
  { key: 'name', label: 'children.name', first: 'ascending', value: (c) => c.name },
  { key: 'completion', label: 'children.completion', first: 'ascending', value: (c) => c.progress?.completionRate ?? 0 },
  { key: 'overdue', label: 'children.overdue', first: 'descending', value: (c) => c.progress?.overdue ?? 0 },
];

function sorted(nodes, sort) {
  if (!sort) return nodes; // tree order, as the server sends it
  const collator = new Intl.Collator(lang(), { numeric: true, sensitivity: 'base' });
  const { value } = COLUMNS.find((column) => column.key === sort.key);
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const order = new Map(nodes.map((node, index) => [node, index]));
  return [...nodes].sort((a, b) =>
    sign * (sort.key === 'name' ? collator.compare(a.name, b.name) : value(a) - value(b)) || order.get(a) - order.get(b));
}

/** connection: { totalCount, nodes, pageInfo }; sort: { key, direction } or null. */
export function childrenTable(connection, sort, { onSort, onMore, loadingMore }) {
  const nodes = connection?.nodes || [];
  if (!nodes.length) return empty(t('children.none'));
  const headings = COLUMNS.map((column) => {
    const active = sort?.key === column.key;
    const next = active ? (sort.direction === 'ascending' ? 'descending' : 'ascending') : column.first;
    const button = h('button', { type: 'button', class: 'sort', onclick: () => onSort({ key: column.key, direction: next }) },
      t(column.label), h('span', { class: ['sort-icon', active && sort.direction], 'aria-hidden': 'true' }));
    button.dataset.focusKey = `sort-${column.key}`;
    return h('th', { scope: 'col', class: `col-${column.key}`, 'aria-sort': active ? sort.direction : null }, button);
  });
  const rows = sorted(nodes, sort).map((child) => {
    const p = child.progress || { total: 0, congressesHeld: 0, completionRate: 0, overdue: 0 };
    const bar = h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'fill' }));
    bar.firstChild.style.width = `${p.completionRate * 100}%`;
    return h('tr', null,
      h('th', { scope: 'row' }, h('a', { href: committeeHref(child.code) }, child.name), h('span', { class: 'code' }, child.code)),
      h('td', { class: 'col-completion' }, h('span', { class: 'rate' }, pct(p.completionRate)), bar,
        h('span', { class: 'of' }, t('children.rateOf', { held: num(p.congressesHeld), total: num(p.total) }))),
      h('td', { class: ['col-overdue', p.overdue && 'bad'] }, num(p.overdue)));
  });
  const more = connection.pageInfo?.hasNextPage;
  return h('div', null,
    h('div', { class: 'table-wrap' }, h('table', { class: 'children' },
      h('caption', { class: 'visually-hidden' }, t('children.caption', { shown: num(nodes.length), total: num(connection.totalCount) })),
      h('thead', null, h('tr', null, headings)),
      h('tbody', null, rows))),
    sort && more ? h('p', { class: 'hint' }, t('children.partial', { shown: num(nodes.length) })) : null,
    more
      ? moreButton(loadingMore ? t('app.loading') : `${t('children.more')} (${num(nodes.length)}/${num(connection.totalCount)})`, onMore,
        { disabled: loadingMore, key: 'children-more' })
      : null);
}
