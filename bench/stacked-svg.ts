/**
 * A stacked bar chart as an SVG string, in the style of bench/svg.ts: one bar per case,
 * its segments stacked bottom-up in the order given, one colour per segment name across
 * bars, the total above each bar.
 */
import { frame, niceMax, num, xmlEscape, type ChartLayout } from './svg.js';

/** One bar: segments bottom-up. */
export interface StackedBar {
  label: string;
  segments: { name: string; value: number }[];
}

const LAYOUT: ChartLayout = {
  w: 860,
  h: 420,
  m: { top: 40, right: 250, bottom: 80, left: 70 },
  colors: ['#8da0cb', '#e78ac3', '#d95f02', '#fc8d62', '#a6d854', '#66c2a5', '#ffd92f', '#1b9e77', '#7570b3', '#b3b3b3'],
};

/** A value label: whole numbers from 100 up, else 3 significant digits. */
const label = (v: number): string => num(Math.abs(v) >= 100 ? Math.round(v) : v);

/** The chart; a segment's value below 0 counts as 0. */
export function stackedBarChart(title: string, yLabel: string, bars: readonly StackedBar[]): string {
  const { m: M, colors: COLORS } = LAYOUT;
  const names = [...new Set(bars.flatMap((b) => b.segments.map((s) => s.name)))];
  const total = (b: StackedBar) => b.segments.reduce((t, s) => t + Math.max(0, s.value), 0);
  const yMax = niceMax(Math.max(0, ...bars.map(total)));
  const pw = LAYOUT.w - M.left - M.right;
  const ph = LAYOUT.h - M.top - M.bottom;
  const body: string[] = [];
  const bw = pw / Math.max(1, bars.length);
  bars.forEach((b, bi) => {
    const x = M.left + bi * bw + bw * 0.15;
    let y = M.top + ph;
    for (const s of b.segments) {
      const h = (ph * Math.max(0, s.value)) / yMax;
      y -= h;
      const c = COLORS[names.indexOf(s.name) % COLORS.length];
      body.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${c}"><title>${xmlEscape(`${b.label}, ${s.name}: ${label(s.value)}`)}</title></rect>`);
    }
    body.push(`<text x="${(x + bw * 0.35).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="10">${label(Math.round(total(b)))}</text>`);
    const lx = (x + bw * 0.35).toFixed(1);
    const ly = M.top + ph + 14;
    body.push(`<text x="${lx}" y="${ly}" text-anchor="end" font-size="10" transform="rotate(-30 ${lx} ${ly})">${xmlEscape(b.label)}</text>`);
  });
  return frame(title, yLabel, yMax, body, names, '', LAYOUT);
}
