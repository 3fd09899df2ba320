/** The bench's statistics, table and charts on known inputs. */
import { describe, expect, it } from 'vitest';
import { interleave, markdownTable, median, p95, percentile, summarize, type Figure } from '../../bench/stats.js';
import { barChart, lineChart, niceMax, xmlEscape } from '../../bench/svg.js';

describe('stats', () => {
  it('median of odd and even counts, unsorted input left untouched', () => {
    const a = [5, 1, 3];
    expect(median(a)).toBe(3);
    expect(a).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('p95 by nearest rank', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1); // 1..20
    expect(p95(xs)).toBe(19);
    expect(percentile(xs, 50)).toBe(10);
    expect(percentile(xs, 100)).toBe(20);
    expect(p95([3, 1, 2])).toBe(3);
    expect(p95(Array.from({ length: 100 }, (_, i) => 100 - i))).toBe(95);
  });

  it('rejects empty input, NaN and bad percentiles', () => {
    expect(() => median([])).toThrow(/no samples/);
    expect(() => summarize([1, NaN])).toThrow(/non-finite/);
    expect(() => percentile([1], 0)).toThrow('percentile 0 is not in (0, 100]');
    expect(() => percentile([1], 101)).toThrow('percentile 101 is not in (0, 100]');
  });

  it('summarize gives n, median, p95, min, max', () => {
    expect(summarize([10, 30, 20, 40])).toEqual({ n: 4, median: 25, p95: 40, min: 10, max: 40 });
  });

  it('interleave runs A B A B ..., drops warm-up rounds and keeps samples per side', async () => {
    const calls: string[] = [];
    const side = (name: string, base: number) => ({
      name,
      run: async (i: number) => {
        calls.push(`${name}${i}`);
        return base + i;
      },
    });
    const r = await interleave([side('a', 100), side('b', 200)], { runs: 3, warmup: 1 });
    expect(calls).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
    expect(r).toEqual({ a: [101, 102, 103], b: [201, 202, 203] });
  });

  it('markdown table: one row per figure with both sides, ratio and goal status', () => {
    const f: Figure[] = [
      { id: 'x', bench: 'b', label: 'swap a|b', unit: 'ms', hotgen: summarize([2, 4]), baseline: { label: 'floor', ...summarize([1, 1]) }, goal: { text: '< 5 ms', met: true } },
      { id: 'y', bench: 'b', label: 'rss', unit: 'MiB', hotgen: summarize([3]), goal: { text: '< 2 MiB', met: false } },
    ];
    const lines = markdownTable(f).trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toBe('| swap a\\|b | 3.00 ms / 4.00 ms (2) | floor: 1.00 ms / 1.00 ms (2) | 3.00× | < 5 ms: **met** |');
    expect(lines[3]).toContain('**missed**');
  });
});

describe('svg', () => {
  it('niceMax rounds up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceMax(0.7)).toBe(1);
    expect(niceMax(13)).toBe(20);
    expect(niceMax(240)).toBe(250);
    expect(niceMax(4100)).toBe(5000);
    expect(niceMax(0)).toBe(1);
  });

  it('bar chart: one rect per value plus the legend, heights proportional, labels escaped', () => {
    const svg = barChart('T <1>', 'ms', [
      { label: 'api', values: [{ name: 'hotgen', value: 50 }, { name: 'restart', value: 100 }] },
      { label: 'core & co', values: [{ name: 'hotgen', value: 25 }, { name: 'restart', value: 100 }] },
    ]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg).toContain('core &amp; co');
    const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#\w+"><title>/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(4);
    expect(heights[1] / heights[0]).toBeCloseTo(2, 2);
    expect(heights[2] / heights[0]).toBeCloseTo(0.5, 2);
  });

  it('line chart: a polyline per series with one point per x, markers', () => {
    const svg = lineChart('swap', 'modules', 'ms', [
      { name: 'bottom', points: [{ x: 11, y: 1 }, { x: 51, y: 5 }, { x: 101, y: 9 }] },
      { name: 'top', points: [{ x: 11, y: 1 }, { x: 101, y: 1 }] },
    ]);
    const polylines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1].split(' ').length);
    expect(polylines).toEqual([3, 2]);
    expect(svg.match(/<circle /g)).toHaveLength(5);
    expect(xmlEscape('"a"')).toBe('&quot;a&quot;');
  });
});
