// Registry of CLI subcommands. Each module exports `(program: Command) => void`;
// add one line here per subcommand module.
import type { Command } from 'commander';

export const commands: ((program: Command) => void)[] = [];
