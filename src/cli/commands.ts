// Registry of CLI subcommands. Each module exports `(program: Command) => void`;
// add one line here per subcommand module.
import type { Command } from 'commander';
import { registerSim } from './sim.ts';
import { registerSupernode } from './supernode.ts';
import { registerDirectory } from './directory.ts';
import { registerAccount } from './account.ts';
import { registerContacts } from './contacts.ts';
import { registerSend } from './send.ts';
import { registerChat } from './chat.ts';
import { registerStatus } from './status.ts';
import { registerUp } from './up.ts';
import { registerDemo } from './demo.ts';

export const commands: ((program: Command) => void)[] = [registerSim, registerSupernode, registerDirectory,
  registerAccount, registerContacts, registerSend, registerChat, registerStatus, registerUp, registerDemo];
