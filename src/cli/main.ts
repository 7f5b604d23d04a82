// The `tincan` command line: one subcommand per role or job (commander).
// Subcommands register themselves from src/cli/commands/*.ts via `commands` below.
import { Command } from 'commander';
import { commands } from './commands.ts';

const program = new Command();
program
  .name('tincan')
  .description('tincan: peer-to-peer calls, chat and files — directory, peers, supernodes')
  .showHelpAfterError();
for (const add of commands) add(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`tincan: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
