// The timeline of congresses held, drawn as inline SVG at the container's own width.

import { h, nextId, replace, s } from '../dom.js';
import { day, num, shortDay, t } from '../i18n.js';

const HEIGHT = 200;
const PAD = { top: 14, right: 14, bottom: 26, left: 44 };

/** points: [{date, congressesHeld}], cumulative; total: the congresses there are. */
export function drawTimeline(container, points, total) {
  if (!points?.length) {
    replace(container, h('p', { class: 'empty' }, t('chart.empty')));
    return;
  }
  const width = Math.max(280, Math.floor(container.clientWidth || 320));
  const last = points[points.length - 1];
  // Scaled to what was held, so early progress is not a flat line; the total is drawn when it is near.
  const held = Math.max(...points.map((p) => p.congressesHeld), 1);
  const showTotal = total > 0 && total <= held * 1.5;
  const top = showTotal ? total : Math.ceil(held * 1.15);
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (points.length === 1 ? plotW : (i / (points.length - 1)) * plotW);
  const y = (value) => PAD.top + plotH - (value / top) * plotH;

  const line = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.congressesHeld).toFixed(1)}`).join('');
  const area = `${line}L${x(points.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`;
  const titleId = nextId('chart-title');
  const descId = nextId('chart-desc');

  const grid = [0, 0.5, 1].map((fraction) => {
    const value = Math.round(top * fraction);
    return s(
      'g',
      { class: 'grid' },
      s('line', { x1: PAD.left, x2: width - PAD.right, y1: y(value), y2: y(value) }),
      s('text', { x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end', text: num(value) }),
    );
  });
  const ticks = [0, Math.floor((points.length - 1) / 2), points.length - 1]
    .filter((index, position, all) => all.indexOf(index) === position)
    .map((index, position, all) =>
      s('text', {
        class: 'tick',
        x: x(index),
        y: HEIGHT - 8,
        'text-anchor': position === 0 ? 'start' : position === all.length - 1 ? 'end' : 'middle',
        text: shortDay(points[index].date),
      }),
    );
  const svg = s(
    'svg',
    {
      class: 'timeline',
      width,
      height: HEIGHT,
      viewBox: `0 0 ${width} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': `${titleId} ${descId}`,
    },
    s('title', { id: titleId, text: t('chart.title') }),
    ...grid,
    showTotal ? s('line', { class: 'target', x1: PAD.left, x2: width - PAD.right, y1: y(total), y2: y(total) }) : null,
    s('path', { class: 'area', d: area }),
    s('path', { class: 'line', d: line }),
    s('circle', { class: 'dot', cx: x(points.length - 1), cy: y(last.congressesHeld), r: 4 }),
    ...ticks,
  );
  replace(
    container,
    svg,
    h('p', { class: 'chart-caption', id: descId }, t('chart.desc', { date: day(last.date), held: num(last.congressesHeld), total: num(total) })),
  );
}
