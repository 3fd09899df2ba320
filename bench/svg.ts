/**
 * Minimal SVG charts written as strings (no chart library): a grouped bar chart
 * (hotgen vs baseline per case) and a line chart (e.g. swap time vs module count).
 */

/** One group of bars, e.g. `{label: 'api', values: [{name: 'hotgen', value: 120}, {name: 'restart', value: 900}]}`. */
export interface BarGroup {
  label: string;
  values: { name: string; value: number }[];
}

/** One line: points sorted by x. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

const W = 720;
const H = 380;
const M = { top: 40, right: 200, bottom: 70, left: 70 };
const COLORS = ['#d95f02', '#1b9e77', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];

/** Escapes text for SVG/XML content and attributes. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" axis maximum ≥ `max` (1, 2, 2.5 or 5 × a power of ten). */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** A number for a label: integers as they are, others to 3 significant digits. */
export function num(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3).replace(/\.?0+$/, '');
}

/** A chart's size and margins (px) and its palette (one colour per legend entry, in order). */
export interface ChartLayout {
  w: number;
  h: number;
  m: { top: number; right: number; bottom: number; left: number };
  colors: readonly string[];
}

const LAYOUT: ChartLayout = { w: W, h: H, m: M, colors: COLORS };

/**
 * The chart's frame around `body` (SVG elements drawn in `layout`'s plot area): title,
 * four horizontal grid lines labelled 0..`yMax`, axis labels, and the legend at the right.
 */
export function frame(title: string, yLabel: string, yMax: number, body: string[], legend: string[], xLabel = '', layout: ChartLayout = LAYOUT): string {
  const { w: W, h: H, m: M, colors: COLORS } = layout;
  const ph = H - M.top - M.bottom;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${xmlEscape(title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const y = M.top + ph - (ph * i) / 4;
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${num(v)}</text>`);
  }
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(yLabel)}</text>`);
  if (xLabel) out.push(`<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 10}" text-anchor="middle">${xmlEscape(xLabel)}</text>`);
  legend.forEach((name, i) => {
    const y = M.top + 10 + i * 18;
    out.push(`<rect x="${W - M.right + 14}" y="${y - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${W - M.right + 32}" y="${y + 1}">${xmlEscape(name)}</text>`);
  });
  out.push(...body, '</svg>');
  return out.join('\n') + '\n';
}

/**
 * A grouped bar chart: one group per case, one bar per value name (same colour for the
 * same name in every group), with the value printed above each bar.
 */
export function barChart(title: string, yLabel: string, groups: readonly BarGroup[]): string {
  const names = [...new Set(groups.flatMap((g) => g.values.map((v) => v.name)))];
  const yMax = niceMax(Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v.value))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const gw = pw / Math.max(1, groups.length);
  const bw = (gw * 0.8) / Math.max(1, names.length);
  const body: string[] = [];
  groups.forEach((g, gi) => {
    const x0 = M.left + gi * gw + gw * 0.1;
    for (const v of g.values) {
      const i = names.indexOf(v.name);
      const h = (ph * Math.max(0, v.value)) / yMax;
      const x = x0 + i * bw;
      const y = M.top + ph - h;
      body.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${xmlEscape(`${g.label} ${v.name}: ${num(v.value)}`)}</title></rect>`);
      body.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${num(v.value)}</text>`);
    }
    const lx = (x0 + gw * 0.4).toFixed(1);
    const ly = M.top + ph + 16;
    // Many groups: slanted labels so neighbours do not overlap.
    body.push(groups.length > 6
      ? `<text x="${lx}" y="${ly}" text-anchor="end" font-size="10" transform="rotate(-35 ${lx} ${ly})">${xmlEscape(g.label)}</text>`
      : `<text x="${lx}" y="${ly}" text-anchor="middle">${xmlEscape(g.label)}</text>`);
  });
  return frame(title, yLabel, yMax, body, names);
}

/** A line chart with a linear x axis (ticks at the data's x values) and markers at every point. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const xMax = Math.max(1, ...xs);
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number) => M.left + (pw * x) / xMax;
  const py = (y: number) => M.top + ph - (ph * y) / yMax;
  const body: string[] = [];
  for (const x of xs) body.push(`<text x="${px(x).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${num(x)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    body.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) body.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${c}"><title>${xmlEscape(`${s.name}: ${num(p.x)} → ${num(p.y)}`)}</title></circle>`);
  });
  return frame(title, yLabel, yMax, body, series.map((s) => s.name), xLabel);
}
