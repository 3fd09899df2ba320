/**
 * A checker for the layout rules of the standard Nix format (RFC 166; standard.md in the
 * NixOS/nixfmt repository) that can be told apart without nixfmt itself, which no package registry
 * reachable here ships: no tab, no trailing blank, LF line ends and one final newline, no
 * two blank lines in a row, two spaces per indentation level, indentation growing by at
 * most one level from one line to the next, a closing bracket (or `in`) at the indentation
 * of the line that opened it, the lines inside an open bracket indented past it, and code
 * lines of at most 100 characters after the indentation (strings and comments may be
 * longer). The lines inside strings and comments are the author's (nixfmt keeps them); one
 * house rule applies there: a multi-line indented string closes on a line of its own.
 * Checked against nixfmt 1.4.0's own test outputs (test/diff/*\/out.nix, test/correct):
 * no problem reported outside `nixfmt: off` regions, tab-indented strings and strings
 * closed mid-line. Passing it is necessary, not sufficient, for nixfmt's output; where a
 * `nixfmt` binary exists, test/generator/nix-format.test.ts also runs `nixfmt --check`.
 */

/** One rule broken: 1-based line number and what is wrong. */
export interface StyleProblem {
  line: number;
  message: string;
}

type Frame = { kind: 'bracket'; close: string; line: number; indent: number } | { kind: 'let'; line: number; indent: number } | { kind: 'str' } | { kind: 'ind' } | { kind: 'interp' };

const CLOSE: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const IDENT = /[A-Za-z_][A-Za-z0-9_'-]*/y;

/** Problems of `text` as a Nix file (empty when none). */
export function checkNixStyle(text: string): StyleProblem[] {
  const problems: StyleProblem[] = [];
  const at = (line: number, message: string) => problems.push({ line, message });
  if (text.includes('\r')) at(1, 'CR line ends');
  if (!text.endsWith('\n') || text.endsWith('\n\n')) at(text.split('\n').length, 'the file must end with exactly one newline');
  const lines = text.replace(/\n$/, '').split('\n');
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1];
  let prevIndent = 0;
  let blank = 0;
  let comment = false; // inside /* */

  lines.forEach((line, i) => {
    const n = i + 1;
    const indent = line.length - line.trimStart().length;
    if (/\t/.test(line)) at(n, 'tab');
    if (/[ \t]$/.test(line)) at(n, 'trailing whitespace');
    if (line.trim() === '') {
      if (++blank === 2) at(n, 'two blank lines in a row');
      return;
    }
    blank = 0;
    // A string's or comment's own lines are kept as written by nixfmt: the indentation rules are for code.
    const startsInCode = top()?.kind !== 'ind' && top()?.kind !== 'str' && !comment;
    if (startsInCode && indent % 2 !== 0) at(n, `indentation ${indent} is not a multiple of two spaces`);
    if (startsInCode && indent > prevIndent + 2) at(n, `indentation grows by ${indent - prevIndent} spaces (at most one level of 2)`);
    prevIndent = indent;
    let first = true; // the next code token is the line's first
    let hasLiteral = false;

    for (let c = indent; c < line.length; ) {
      const ch = line[c]!;
      const two = line.slice(c, c + 2);
      const frame = top();
      if (comment) {
        if (two === '*/') {
          comment = false;
          c += 2;
        } else c++;
        continue;
      }
      if (frame?.kind === 'str') {
        if (ch === '\\') c += 2;
        else if (ch === '"') {
          stack.pop();
          c++;
        } else if (two === '${') {
          stack.push({ kind: 'interp' });
          c += 2;
        } else c++;
        continue;
      }
      if (frame?.kind === 'ind') {
        if (line.startsWith("'''", c) || line.startsWith("''$", c)) c += 3;
        else if (line.startsWith("''\\", c)) c += 4;
        else if (two === "''") {
          stack.pop();
          if (first && c !== indent) at(n, "an indented string's closing '' must start its line");
          first = false;
          c += 2;
        } else if (two === '${') {
          stack.push({ kind: 'interp' });
          c += 2;
        } else c++;
        continue;
      }
      // Code.
      if (ch === ' ') {
        c++;
        continue;
      }
      if (first && !'}])'.includes(ch) && !/^in\b/.test(line.slice(c))) checkInside(n, indent);
      if (ch === '#') {
        hasLiteral = true;
        break;
      }
      if (two === '/*') {
        hasLiteral = true;
        comment = true;
        c += 2;
      } else if (ch === '"') {
        hasLiteral = true;
        stack.push({ kind: 'str' });
        c++;
      } else if (two === "''") {
        hasLiteral = true;
        stack.push({ kind: 'ind' });
        c += 2;
      } else if (ch in CLOSE) {
        stack.push({ kind: 'bracket', close: CLOSE[ch]!, line: n, indent });
        c++;
      } else if (ch === '}' && frame?.kind === 'interp') {
        stack.pop();
        c++;
      } else if (ch === '}' || ch === ']' || ch === ')') {
        const open = stack.pop();
        if (open?.kind !== 'bracket' || open.close !== ch) at(n, `unbalanced ${ch}`);
        else if (first && open.line !== n && indent !== open.indent) at(n, `${ch} at indentation ${indent}, its opener's line (${open.line}) at ${open.indent}`);
        c++;
      } else {
        IDENT.lastIndex = c;
        const word = IDENT.exec(line)?.[0];
        if (word === 'let') stack.push({ kind: 'let', line: n, indent });
        if (word === 'in') {
          const open = stack.pop();
          if (open?.kind !== 'let') at(n, 'unbalanced in');
          else if (first && indent !== open.indent) at(n, `in at indentation ${indent}, its let's line (${open.line}) at ${open.indent}`);
        }
        c += word ? word.length : 1;
      }
      first = false;
    }
    if (startsInCode && !hasLiteral && line.length - indent > 100) at(n, `code line of ${line.length - indent} characters (at most 100 after the indentation)`);
  });
  if (stack.some((f) => f.kind !== 'interp')) at(lines.length, 'unclosed bracket, let or string at the end');
  return problems;

  /** A line starting inside a bracket or let opened on an earlier line is indented past the opener's line. */
  function checkInside(n: number, indent: number): void {
    const open = [...stack].reverse().find((f) => f.kind === 'bracket' || f.kind === 'let') as { line: number; indent: number } | undefined;
    if (open && open.line !== n && indent < open.indent + 2) at(n, `indentation ${indent} inside the bracket opened on line ${open.line} (at ${open.indent})`);
  }
}
