// One-line, user-facing explanations of what went wrong, for the account, contacts and
// chat commands: DirectoryError / PeerError / ControlError -> a CliError whose message
// main.ts prints as `tincan: <message>` (exit code 1). Never includes tokens or passwords.
import { DirectoryError } from '../directory/client.ts';
import { PeerError } from '../overlay/peer-api.ts';
import { ControlError } from '../apps/control/client.ts';

export class CliError extends Error {
  constructor(message: string) { super(message); this.name = 'CliError'; }
}

export interface Context { directory?: string; username?: string; action?: 'login' | 'register' | 'contact' }

export function explain(e: unknown, ctx: Context = {}): Error {
  if (e instanceof CliError) return e;
  if (e instanceof DirectoryError) {
    if (e.status === 0 || e.status >= 500) return new CliError(`directory unreachable at ${ctx.directory ?? 'the configured URL'} (is \`tincan directory\` running?)`);
    if (e.status === 401) {
      return new CliError(ctx.action === 'login' ? 'wrong username or password' : 'not logged in or the session expired: run `tincan login <username>`');
    }
    if (e.status === 404 && ctx.username) return new CliError(`unknown user ${ctx.username}`);
    if (e.status === 409 && ctx.action === 'register') return new CliError(`username ${ctx.username ?? ''} is taken`.replace(/ +$/, ''));
    if (e.status === 429) return new CliError(`the directory refused: ${e.message}`);
    return new CliError(e.message);
  }
  if (e instanceof PeerError) {
    switch (e.code) {
      case 'directory-unreachable': return new CliError(`directory unreachable at ${ctx.directory ?? 'the configured URL'} (is \`tincan directory\` running?)`);
      case 'bad-credentials': return new CliError('not logged in or the session expired: run `tincan login <username>`');
      default: return new CliError(e.message);
    }
  }
  if (e instanceof ControlError) return new CliError(e.message);
  return e instanceof Error ? e : new Error(String(e));
}
