/**
 * A program that is not a server: a small REPL (an `evaluator` crate below the entry
 * `shell`, variables in a frozen `store` crate's state) under `hotgen dev` with stdin
 * piped, through the real CLI, cargo and dlopen. A line is evaluated; the evaluator is
 * edited and reloaded; the next line is evaluated by the new code with the variables
 * defined before the reload; arguments after `--` reach the program; no line is lost or
 * read twice across the reload, and EOF on stdin reaches the app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir, writeTree, type Tree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { cli, hotgen, toolchainEnv } from '../loader/fixtures/dev-session.js';

const manifest = (name: string, deps: string[]) =>
  `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${deps.map((d) => `${d} = { path = "../${d}" }\n`).join('')}`;

/** The REPL workspace: `store` (frozen: the variables), `evaluator` (`let x = e`, `e` with + and *), `shell` (the entry). */
function replWorkspace(): Tree {
  return {
    'Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["store", "evaluator", "shell"]\n',
    'store/Cargo.toml': manifest('store', []),
    'store/src/lib.rs': `use std::collections::HashMap;
use std::sync::Mutex;

/// The REPL's variables, kept across reloads.
#[derive(Default)]
pub struct Vars(pub Mutex<HashMap<String, i64>>);
`,
    'evaluator/Cargo.toml': manifest('evaluator', []),
    'evaluator/src/lib.rs': `use std::collections::HashMap;

pub const PREFIX: &str = "= ";

fn value(term: &str, vars: &HashMap<String, i64>) -> Result<i64, String> {
    let t = term.trim();
    t.parse().or_else(|_| vars.get(t).copied().ok_or(format!("unknown name {t}")))
}

fn expr(e: &str, vars: &HashMap<String, i64>) -> Result<i64, String> {
    e.split('+').map(|sum| sum.split('*').try_fold(1, |acc, f| Ok(acc * value(f, vars)?))).sum()
}

/// Evaluates one line: \`let NAME = EXPR\` or \`EXPR\`.
pub fn eval(line: &str, vars: &mut HashMap<String, i64>) -> String {
    let line = line.trim();
    let result = match line.strip_prefix("let ").and_then(|d| d.split_once('=')) {
        Some((name, e)) => expr(e, vars).map(|v| { vars.insert(name.trim().to_string(), v); v }),
        None => expr(line, vars),
    };
    match result {
        Ok(v) => format!("{PREFIX}{v}"),
        Err(e) => format!("error: {e}"),
    }
}
`,
    'shell/Cargo.toml': manifest('shell', ['store', 'evaluator']),
    'shell/src/lib.rs': `#[allow(unexpected_cfgs)]
#[path = "."]
mod hot {
    #[cfg(hotgen)]
    #[path = "hotgen_entry.rs"]
    #[rustfmt::skip]
    mod hotgen_entry;

    // SAFETY: Vars is a std Mutex<HashMap<String, i64>> defined in the frozen crate store;
    // it holds no pointer into reloadable code.
    #[cfg(hotgen)]
    unsafe impl hotgen_entry::FrozenState for store::Vars {}

    #[cfg(hotgen)]
    fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {
        let vars = ctx.state(store::Vars::default);
        println!("generation {} args {:?}", ctx.generation(), ctx.args());
        let cwd = std::env::current_dir().unwrap();
        println!("env {:?} cwd {}", std::env::var("REPL_MODE").ok(), cwd.file_name().unwrap().to_string_lossy());
        loop {
            let mut line = String::new();
            match ctx.read_line(&mut line) {
                Ok(None) => return 0,
                Ok(Some(0)) => {
                    println!("eof");
                    ctx.wait_stop(None);
                    return 0;
                }
                Ok(Some(_)) => println!("{}", evaluator::eval(&line, &mut vars.0.lock().unwrap())),
                Err(e) => {
                    eprintln!("stdin: {e}");
                    return 1;
                }
            }
        }
    }
}
`,
  };
}

describe.skipIf(skipUnless(tools.nightly()))('a REPL under hotgen dev (stdin, arguments, state, reload)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  const env = () => ({ ...process.env, NO_COLOR: '1', ...toolchainEnv() });

  beforeAll(async () => {
    dir = await tempDir('repl');
    root = path.join(dir.path, 'ws');
    await writeTree(root, replWorkspace());
    const init = await hotgen(root, ['init', '--entry', 'shell', '--frozen', 'store', '--linker', 'default'], toolchainEnv());
    expect(init.code, init.stderr).toBe(0);
    // The app's environment and working directory come from hotgen.yaml; `--` replaces app.args.
    const yaml = path.join(root, 'hotgen.yaml');
    await writeFile(yaml, (await readFile(yaml, 'utf8')).replace(/^crates:/m, 'app: { args: [from-yaml], env: { REPL_MODE: calc }, cwd: store }\ncrates:'));
  });
  afterAll(async () => dir?.[Symbol.asyncDispose]());

  it('evaluates stdin lines, keeps variables across an evaluator reload, passes -- ARGS and EOF', async () => {
    const child = spawn(process.execPath, [cli, 'dev', '--no-watch', '--', '--mode', 'two words', ''], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: env() });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const until = async (re: RegExp, ms = 240_000) => {
      const t0 = Date.now();
      while (!re.test(out)) {
        if (child.exitCode !== null || Date.now() - t0 > ms) throw new Error(`no ${re} (exit ${child.exitCode}):\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await until(/generation 1 args \["--mode", "two words", ""\]/);
      await until(/^env Some\("calc"\) cwd store$/m);
      child.stdin!.write('let x = 40\nx + 2\n');
      await until(/^= 42$/m);
      expect(out).toMatch(/^= 40\n= 42$/m);

      const lib = path.join(root, 'evaluator/src/lib.rs');
      await writeFile(lib, (await readFile(lib, 'utf8')).replace('pub const PREFIX: &str = "= ";', 'pub const PREFIX: &str = "=> ";'));
      process.kill(child.pid!, 'SIGINT');
      await until(/reloaded 2 modules \(evaluator, shell\)/);
      await until(/generation 2 args/);
      // Written in one go after the reload: every line is read once, by the new code.
      child.stdin!.write('x * 2\nlet y = x + 1\ny\n');
      await until(/^=> 41$/m);
      const after = out.slice(out.indexOf('generation 2 args'));
      expect(after.match(/^=>? -?\d+$/gm)).toEqual(['=> 80', '=> 41', '=> 41']);
      expect(out.match(/^= \d+$/gm)).toEqual(['= 40', '= 42']);

      child.stdin!.end();
      await until(/^eof$/m);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
