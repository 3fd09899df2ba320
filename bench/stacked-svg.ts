/**
 * A stacked bar chart as an SVG string, in the style of bench/svg.ts: one bar per case,
 * its segments stacked bottom-up in the order given, one colour per segment name across
 * bars, the total above each bar.
 */
import { niceMax, xmlEscape } from './svg.js';

/** One bar: segments bottom-up. */
export interface StackedBar {
  label: string;
  segments: { name: string; value: number }[];
}

const W = 860;
const H = 420;
const M = { top: 40, right: 250, bottom: 80, left: 70 };
const COLORS = ['#8da0cb', '#e78ac3', '#d95f02', '#fc8d62', '#a6d854', '#66c2a5', '#ffd92f', '#1b9e77', '#7570b3', '#b3b3b3'];

function num(v: number): string {
  if (Number.isInteger(v) || Math.abs(v) >= 100) return String(Math.round(v));
  return v.toPrecision(3).replace(/\.?0+$/, '');
}

/** The chart; a segment's value below 0 counts as 0. */
export function stackedBarChart(title: string, yLabel: string, bars: readonly StackedBar[]): string {
  const names = [...new Set(bars.flatMap((b) => b.segments.map((s) => s.name)))];
  const total = (b: StackedBar) => b.segments.reduce((t, s) => t + Math.max(0, s.value), 0);
  const yMax = niceMax(Math.max(0, ...bars.map(total)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${xmlEscape(title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = M.top + ph - (ph * i) / 4;
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${num((yMax * i) / 4)}</text>`);
  }
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(yLabel)}</text>`);
  const bw = pw / Math.max(1, bars.length);
  bars.forEach((b, bi) => {
    const x = M.left + bi * bw + bw * 0.15;
    let y = M.top + ph;
    for (const s of b.segments) {
      const h = (ph * Math.max(0, s.value)) / yMax;
      y -= h;
      const c = COLORS[names.indexOf(s.name) % COLORS.length];
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${c}"><title>${xmlEscape(`${b.label}, ${s.name}: ${num(s.value)}`)}</title></rect>`);
    }
    out.push(`<text x="${(x + bw * 0.35).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="10">${num(Math.round(total(b)))}</text>`);
    const lx = (x + bw * 0.35).toFixed(1);
    const ly = M.top + ph + 14;
    out.push(`<text x="${lx}" y="${ly}" text-anchor="end" font-size="10" transform="rotate(-30 ${lx} ${ly})">${xmlEscape(b.label)}</text>`);
  });
  names.forEach((name, i) => {
    const y = M.top + 10 + i * 18;
    out.push(`<rect x="${W - M.right + 14}" y="${y - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${W - M.right + 32}" y="${y + 1}">${xmlEscape(name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
