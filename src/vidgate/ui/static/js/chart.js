// Small SVG charts of our own (no library): columns over time and horizontal bars. Sizes are
// SVG attributes in a viewBox, never inline styles (the CSP allows none); text is text nodes.

const NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A round upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((top) => top >= value);
}

// Columns for `points` ([{label, value}] in order, e.g. one per day) with a y axis of three
// gridlines, every n-th x label so they do not overlap, and a tooltip per column.
export function columns(points, { format = String, width = 960, height = 220, title = '' } = {}) {
  const left = 56, bottom = 24, top = 10, plot = height - bottom - top;
  const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
  const chart = svg('svg', { class: 'chart columns', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  for (const step of [0, 0.5, 1]) {
    const y = top + plot - plot * step;
    chart.append(
      svg('line', { class: 'grid', x1: left, x2: width, y1: y, y2: y }),
      svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, format(max * step)),
    );
  }
  const slot = (width - left) / Math.max(1, points.length);
  const every = Math.ceil(points.length / Math.floor((width - left) / 70));
  points.forEach((point, i) => {
    const x = left + i * slot, tall = (plot * point.value) / max;
    chart.append(svg('rect', {
      class: 'bar', x: x + slot * 0.15, y: top + plot - tall, width: Math.max(1, slot * 0.7), height: tall,
      'data-label': point.label, 'data-value': point.value,
    }, svg('title', {}, `${point.label}: ${format(point.value)}`)));
    if (i % every === 0) {
      chart.append(svg('text', { x: x + slot / 2, y: height - 6, 'text-anchor': 'middle' }, point.label));
    }
  });
  return chart;
}

// Horizontal bars for `rows` ([{label, value, note}]), largest first as given: the label on
// the left, a bar scaled to the largest value, and the value (and note) after it. Give the
// `width` the chart is shown at, so its text is drawn at its own size.
export function bars(rows, { format = String, width = 600, title = '' } = {}) {
  const row = 26, labelWidth = Math.min(170, width * 0.3), valueWidth = 120;
  const max = Math.max(0, ...rows.map((r) => r.value)) || 1;
  const chart = svg('svg', { class: 'chart bars', viewBox: `0 0 ${width} ${row * rows.length + 4}`, role: 'img', 'aria-label': title });
  rows.forEach((item, i) => {
    const y = i * row + 2, long = ((width - labelWidth - valueWidth) * item.value) / max;
    const fits = Math.floor(labelWidth / 7.5);
    const label = item.label.length > fits ? `${item.label.slice(0, fits - 1)}…` : item.label;
    chart.append(
      svg('text', { class: 'label', x: 0, y: y + 16 }, label, svg('title', {}, item.label)),
      svg('rect', { class: 'track', x: labelWidth, y: y + 4, width: width - labelWidth - valueWidth, height: row - 10, rx: 3 }),
      svg('rect', {
        class: 'bar', x: labelWidth, y: y + 4, width: Math.max(item.value > 0 ? 2 : 0, long), height: row - 10, rx: 3,
        'data-label': item.label, 'data-value': item.value,
      }, svg('title', {}, `${item.label}: ${format(item.value)}`)),
      svg('text', { class: 'value', x: width - valueWidth + 8, y: y + 16 }, format(item.value), item.note ? ` · ${item.note}` : ''),
    );
  });
  return chart;
}
