// Reads a password for `tincan register` / `tincan login`: from stdin with
// --password-stdin (first line, for scripts and tests), else from a terminal prompt with
// echo off. Passwords never come from argv (they would show in `ps` and shell history).
import { createInterface } from 'node:readline';
import { CliError } from './user-errors.ts';

export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  if (!line) throw new CliError('--password-stdin: no password on stdin');
  return line;
}

export function promptPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) return Promise.reject(new CliError('no terminal to ask for the password: use --password-stdin'));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const out = rl as unknown as { _writeToOutput(s: string): void; output: NodeJS.WritableStream };
    let prompted = false;
    out._writeToOutput = (s: string) => { if (!prompted) { out.output.write(s); prompted = true; } };
    rl.question(prompt, (answer) => { rl.close(); process.stdout.write('\n'); if (answer) resolve(answer); else reject(new CliError('empty password')); });
    rl.on('SIGINT', () => { rl.close(); reject(new CliError('cancelled')); });
  });
}

export async function getPassword(fromStdin: boolean, confirm: boolean): Promise<string> {
  if (fromStdin) return readPasswordFromStdin();
  const p = await promptPassword('password: ');
  if (confirm && (await promptPassword('again: ')) !== p) throw new CliError('the passwords differ');
  return p;
}
