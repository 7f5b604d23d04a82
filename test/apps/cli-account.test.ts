// The account and contacts CLI against a real directory on loopback: register, login
// (token kept 0600, never printed), contacts add/accept/list, and the one-line errors
// with a non-zero exit: wrong password, unknown user, directory unreachable, no daemon.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, testDirectory } from './cli-helpers.ts';
import type { Directory } from '../../src/directory/server.ts';

const root = mkdtempSync(join(tmpdir(), 'tincan-cli-account-'));
let dir: Directory | undefined;
afterAll(async () => { await dir?.close(); rmSync(root, { recursive: true, force: true }); });

describe('tincan register / login / contacts', () => {
  it('works end to end and explains each failure in one line', async () => {
    dir = await testDirectory(root);
    const url = dir.url;
    const home = (u: string) => ({ TINCAN_HOME: join(root, u) });
    const [ra, rb] = await Promise.all([
      run(['register', 'alice', '--directory', url, '--password-stdin'], { stdin: 'alice password 1\n', env: home('alice') }),
      run(['register', 'bob', '--directory', url, '--password-stdin'], { stdin: 'bob password 22\n', env: home('bob') }),
    ]);
    expect([ra.code, ra.stdout.trim()]).toEqual([0, `registered alice at ${url}`]);
    expect(rb.code).toBe(0);

    const [wrong, unreachable, la, lb] = await Promise.all([
      run(['login', 'alice', '--directory', url, '--password-stdin'], { stdin: 'not it\n', env: home('alice') }),
      run(['login', 'alice', '--directory', 'http://127.0.0.1:9', '--password-stdin'], { stdin: 'alice password 1\n', env: home('x') }),
      run(['login', 'alice', '--directory', url, '--password-stdin'], { stdin: 'alice password 1\n', env: home('alice') }),
      run(['login', 'bob', '--directory', url, '--password-stdin'], { stdin: 'bob password 22\n', env: home('bob') }),
    ]);
    expect([wrong.code, wrong.stderr.trim()]).toEqual([1, 'tincan: wrong username or password']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toBe('tincan: directory unreachable at http://127.0.0.1:9 (is `tincan directory` running?)');
    expect(la.code).toBe(0);
    expect(lb.code).toBe(0);
    const accFile = join(root, 'alice', 'account.json');
    expect(statSync(accFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'alice')).mode & 0o777).toBe(0o700);
    const token = (JSON.parse(readFileSync(accFile, 'utf8')) as { token: string }).token;
    expect(token.length).toBeGreaterThan(10);
    expect(la.stdout + la.stderr).not.toContain(token);

    const [add, unknown] = await Promise.all([
      run(['contacts', 'add', 'bob'], { env: home('alice') }),
      run(['contacts', 'add', 'nobody'], { env: home('alice') }),
    ]);
    expect([add.code, add.stdout.trim()]).toEqual([0, 'contact request sent to bob']);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'tincan: unknown user nobody']);
    const accept = await run(['contacts', 'accept', 'alice'], { env: home('bob') });
    expect([accept.code, accept.stdout.trim()]).toEqual([0, 'alice is now a contact']);
    const [list, noDaemon, notLoggedIn] = await Promise.all([
      run(['contacts', 'list', '--json'], { env: home('alice') }),
      run(['send', 'bob', 'hi'], { env: home('alice') }),
      run(['contacts', 'list'], { env: home('nobody') }),
    ]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ username: 'bob', state: 'accepted', online: false })]);
    expect([noDaemon.code, noDaemon.stderr.trim()]).toEqual([1, 'tincan: the tincan daemon is not running for this state dir: start it with `tincan up`']);
    expect(notLoggedIn.code).toBe(1);
    expect(notLoggedIn.stderr).toMatch(/^tincan: not logged in .*tincan login/);
  });
});
