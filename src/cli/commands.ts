// Registry of CLI subcommands. Each module exports `(program: Command) => void`;
// add one line here per subcommand module.
import type { Command } from 'commander';
import { registerSim } from './sim.ts';
import { registerSupernode } from './supernode.ts';
import { registerDirectory } from './directory.ts';

export const commands: ((program: Command) => void)[] = [registerSim, registerSupernode, registerDirectory];
