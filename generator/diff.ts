/** Unified diffs for `hotgen init --dry-run` (jsdiff's `createTwoFilesPatch`). */
import { createTwoFilesPatch } from '../common/deps-render.js';

/**
 * A unified diff of one file, `a/<rel>` → `b/<rel>`; `/dev/null` for a file that does
 * not exist before (`before` undefined) or after (`after` undefined). Empty string when
 * nothing changes. CRLF line breaks are shown as-is.
 */
export function unifiedDiff(rel: string, before: string | undefined, after: string | undefined): string {
  if (before === after) return '';
  const from = before === undefined ? '/dev/null' : `a/${rel}`;
  const to = after === undefined ? '/dev/null' : `b/${rel}`;
  // jsdiff puts a row of `=` above the `---` line; git's format has none.
  return createTwoFilesPatch(from, to, before ?? '', after ?? '', undefined, undefined, { context: 3 }).replace(/^=+\n/, '');
}
