// Lab setup process (run on the public segment): waits for the directory, creates the
// accounts alice and bob, makes them mutual contacts and prints their bearer tokens as
// one JSON line {event:'accounts', tokens:{alice, bob}}. Uses only the directory's
// public HTTP API (src/directory/client.ts), like `tincan register` / `contacts` would.
// Usage: accounts.ts <directory url>
import { DirectoryClient } from '../../../src/directory/client.ts';

const url = process.argv[2];
const deadline = Date.now() + 15_000;
for (;;) {
  try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not up yet */ }
  if (Date.now() > deadline) throw new Error(`directory ${url} did not come up`);
  await new Promise((r) => setTimeout(r, 100));
}
const tokens: Record<string, string> = {};
const clients: Record<string, DirectoryClient> = {};
for (const name of ['alice', 'bob']) {
  const c = new DirectoryClient(url);
  await c.register(name, `${name} lab password`);
  await c.login(name, `${name} lab password`);
  tokens[name] = c.token!;
  clients[name] = c;
}
await clients.alice.requestContact('bob');
await clients.bob.acceptContact('alice');
process.stdout.write(`${JSON.stringify({ event: 'accounts', tokens })}\n`);
