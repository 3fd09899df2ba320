/**
 * `hotgen ci --github` without Nix: the workflow's YAML shape, its jobs and steps per
 * architecture, and the overwrite policy (hotgen replaces only a workflow it wrote and
 * nobody edited, unless --force).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { YAML } from '../../common/deps-config.js';
import { UsageError, UserError } from '../../common/errors.js';
import { ACTIONS, isPristineWorkflow, renderWorkflow, writeWorkflow, WORKFLOW_FILE } from '../../generator/ci.js';
import { main } from '../../cli/hotgen.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { fixtureTree } from '../nix/fixtures.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
}
interface Job {
  'runs-on': string;
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

function parse(text: string): Workflow {
  const doc = YAML.parseDocument(text);
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  expect(doc.warnings.map((e) => e.message)).toEqual([]);
  return doc.toJS() as Workflow;
}

const STEPS = (profile: string) => [
  { uses: `actions/checkout@${ACTIONS.checkout.sha}` },
  { uses: `cachix/install-nix-action@${ACTIONS.installNix.sha}` },
  { uses: `nix-community/cache-nix-action@${ACTIONS.cacheNix.sha}` },
  { run: 'nix flake check --print-build-logs' },
  { run: `nix develop --command cargo build --config hotgen/cargo-config.toml --profile ${profile}` },
  { run: 'nix develop --command cargo test --workspace' },
];

async function workspace(tmp: string, name: string, profile = 'hot'): Promise<string> {
  const root = path.join(tmp, name);
  await writeTree(root, fixtureTree(root, { profile }).tree);
  return root;
}

describe('the rendered workflow', () => {
  it('is valid YAML with one x86_64-linux job: checkout, Nix, the store cache, flake check, build, test', () => {
    const text = renderWorkflow('hot');
    const wf = parse(text);
    expect(wf.name).toBe('hotgen');
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(Object.keys(wf.jobs)).toEqual(['x86_64-linux']);
    const job = wf.jobs['x86_64-linux']!;
    expect(job['runs-on']).toBe('ubuntu-latest');
    expect(job.steps.map((s) => (s.uses ? { uses: s.uses } : { run: s.run }))).toEqual(STEPS('hot'));
    expect(job.steps.every((s) => typeof s.name === 'string' && s.name.length > 0)).toBe(true);
    expect(job.steps[1]!.with!.extra_nix_config).toContain('experimental-features = nix-command flakes');
    // The reason for the cache choice is in the file, next to the step.
    expect(text).toMatch(/^# "Cache the Nix store" keeps \/nix \(the store and Nix's database[\s\S]*nix-community\/cache-nix-action, which uses\n# actions\/cache's supported cache API/m);
    // The cache key: per system, from the Nix files, the lock files and the pin; older caches of the job restore on a miss.
    expect(job.steps[2]!.with).toEqual({
      'primary-key': "nix-x86_64-linux-${{ hashFiles('**/*.nix', 'flake.lock', 'hotgen/rust-toolchain.toml', 'Cargo.lock') }}",
      'restore-prefixes-first-match': 'nix-x86_64-linux-',
    });
    // What to commit: hotgen's own files, not a root rust-toolchain.toml.
    expect(text).toMatch(/^# .*Commit\n# flake\.nix, nix\/, hotgen\/ and flake\.lock/m);
    expect(text).not.toMatch(/(?<!hotgen\/)rust-toolchain\.toml/);
  });

  it('pins every action by a full commit SHA, with its release tag in a comment', () => {
    const text = renderWorkflow('hot', ['aarch64']);
    const uses = [...text.matchAll(/^ +uses: (.*)$/gm)].map((m) => m[1]!);
    expect(uses).toHaveLength(6);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    expect(new Set(uses)).toEqual(new Set(Object.values(ACTIONS).map((a) => `${a.repo}@${a.sha} # ${a.tag}`)));
    // No action by tag or branch, and none of the retired cache actions.
    expect(text).not.toMatch(/uses: [^\n]*@v\d/);
    expect(text).not.toMatch(/magic-nix-cache|actions\/cache@/);
  });

  it('--arch aarch64 adds an aarch64-linux job on the arm64 runner with the same steps', () => {
    const wf = parse(renderWorkflow('dev', ['aarch64']));
    expect(Object.keys(wf.jobs)).toEqual(['x86_64-linux', 'aarch64-linux']);
    expect(wf.jobs['aarch64-linux']!['runs-on']).toBe('ubuntu-24.04-arm');
    expect(wf.jobs['x86_64-linux']!['runs-on']).toBe('ubuntu-latest');
    for (const job of Object.values(wf.jobs)) expect(job.steps.map((s) => (s.uses ? { uses: s.uses } : { run: s.run }))).toEqual(STEPS('dev'));
  });

  it('refuses a profile name that is not a plain Cargo profile name', () => {
    expect(() => renderWorkflow('hot; rm -rf /')).toThrow(UserError);
  });

  it('carries a hash of itself: any edit makes it no longer pristine', () => {
    const text = renderWorkflow('hot');
    expect(isPristineWorkflow(text)).toBe(true);
    expect(isPristineWorkflow(text.replace('cargo test --workspace', 'cargo test --workspace --release'))).toBe(false);
    expect(isPristineWorkflow(text + '\n')).toBe(false);
    expect(isPristineWorkflow('name: mine\n')).toBe(false);
  });
});

describe('writing .github/workflows/hotgen.yml', () => {
  afterEach(() => vi.restoreAllMocks());

  it('creates it, leaves it alone on a re-run, and replaces it when the settings change', async () => {
    await using tmp = await tempDir('ci');
    const root = await workspace(tmp.path, 'ws');
    const file = path.join(root, WORKFLOW_FILE);
    const first = await writeWorkflow(root);
    expect(first.action).toBe('created');
    expect(first.file).toBe(file);
    expect(await readFile(file, 'utf8')).toBe(first.content);
    expect((await writeWorkflow(root)).action).toBe('unchanged');
    const both = await writeWorkflow(root, { arch: ['aarch64'] });
    expect(both.action).toBe('replaced');
    expect(both.systems).toEqual(['x86_64-linux', 'aarch64-linux']);
    expect(Object.keys(parse(await readFile(file, 'utf8')).jobs)).toEqual(['x86_64-linux', 'aarch64-linux']);
  });

  it('uses the profile from hotgen.yaml', async () => {
    await using tmp = await tempDir('ci');
    const root = await workspace(tmp.path, 'ws', 'dev');
    const r = await writeWorkflow(root);
    expect(parse(r.content).jobs['x86_64-linux']!.steps.map((s) => s.run).filter(Boolean)).toContain('nix develop --command cargo build --config hotgen/cargo-config.toml --profile dev');
  });

  it('refuses to replace a workflow it did not write, or one edited since, unless forced', async () => {
    await using tmp = await tempDir('ci');
    const root = await workspace(tmp.path, 'ws');
    const file = path.join(root, WORKFLOW_FILE);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'name: mine\n');
    await expect(writeWorkflow(root)).rejects.toThrow(/was not written by hotgen/);
    expect((await writeWorkflow(root, { dryRun: true })).action).toBe('dry-run');
    expect(await readFile(file, 'utf8')).toBe('name: mine\n');
    expect((await writeWorkflow(root, { force: true })).action).toBe('replaced');

    const edited = (await readFile(file, 'utf8')).replace('timeout-minutes: 90', 'timeout-minutes: 30');
    await writeFile(file, edited);
    const err = await writeWorkflow(root, { arch: ['aarch64'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/was edited since hotgen wrote it/);
    expect((err as UserError).opts.file).toBe(WORKFLOW_FILE);
    expect(await readFile(file, 'utf8')).toBe(edited);
    expect((await writeWorkflow(root, { arch: ['aarch64'], force: true })).action).toBe('replaced');
  });

  it('dry run writes nothing', async () => {
    await using tmp = await tempDir('ci');
    const root = await workspace(tmp.path, 'ws');
    const r = await writeWorkflow(root, { dryRun: true });
    expect(r.action).toBe('dry-run');
    expect(parse(r.content).jobs['x86_64-linux']).toBeDefined();
    expect(existsSync(path.join(root, WORKFLOW_FILE))).toBe(false);
  });

  it('needs an initialised workspace', async () => {
    await using tmp = await tempDir('ci');
    const err = await writeWorkflow(tmp.path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).opts.hint).toMatch(/hotgen init/);
  });

  it('the CLI: --github required, --arch checked, --json event, found from a subdirectory', async () => {
    await using tmp = await tempDir('ci');
    const root = await workspace(tmp.path, 'ws');
    await expect(main(['ci', '-C', root])).rejects.toBeInstanceOf(UsageError);
    await expect(main(['ci', '--github', '--arch', 'sparc', '-C', root])).rejects.toBeInstanceOf(UsageError);
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    expect(await main(['ci', '--github', '--aarch64', '--json', '-C', path.join(root, 'app', 'src')])).toBe(0);
    vi.restoreAllMocks();
    const events = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toEqual([{ event: 'ci', file: path.join(root, WORKFLOW_FILE), action: 'created', systems: ['x86_64-linux', 'aarch64-linux'] }]);
    expect(parse(await readFile(path.join(root, WORKFLOW_FILE), 'utf8')).jobs['aarch64-linux']).toBeDefined();
  });
});
