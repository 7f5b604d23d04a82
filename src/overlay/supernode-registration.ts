// A supernode's entry in the directory's registry (POST /v1/supernodes, heartbeats),
// I/O glue over a logged-in DirectoryClient. Contract: `registerAtDirectory(...)`
// resolves once registered (rejects with the DirectoryError if the first registration
// fails); then a heartbeat carrying `load()` goes out every heartbeatIntervalMs the
// directory asked for; an entry the directory forgot (404: expired while we were
// unreachable) is registered again; other failures are reported through `onError` and
// retried at the next beat. `close()` stops the heartbeats (the entry then expires).
// Peers find supernodes in GET /v1/supernodes; supernodes seed their gossip from it.
import type { DirectoryClient, Supernode } from '../directory/client.ts';
import { DirectoryError } from '../directory/client.ts';

export interface SupernodeRegistration {
  /** The directory's id for this supernode (changes after a re-registration). */
  readonly id: string;
  close(): void;
}

export interface RegistrationOptions {
  readonly directory: DirectoryClient;
  /** The address and UDP port peers reach this supernode at. */
  readonly address: string;
  readonly port: number;
  /** Relay sessions this supernode offers. */
  readonly capacity: number;
  readonly load?: () => number;
  /** Other live supernodes, after every successful beat (e.g. to seed gossip). */
  readonly onList?: (list: Supernode[]) => void;
  readonly onError?: (e: Error) => void;
}

export async function registerAtDirectory(o: RegistrationOptions): Promise<SupernodeRegistration> {
  const load = () => Math.max(0, Math.min(1_000_000, Math.round(o.load?.() ?? 0)));
  const first = await o.directory.registerSupernode({ address: o.address, port: o.port, capacity: o.capacity, load: load() });
  let id = first.id;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const intervalMs = Math.max(1000, first.heartbeatIntervalMs);
  const beat = async () => {
    try {
      await o.directory.heartbeatSupernode(id, load());
    } catch (e) {
      if (!(e instanceof DirectoryError) || e.status !== 404) throw e;
      id = (await o.directory.registerSupernode({ address: o.address, port: o.port, capacity: o.capacity, load: load() })).id;
    }
    if (o.onList) o.onList((await o.directory.supernodes(50)).filter((s) => s.id !== id));
  };
  const arm = () => {
    if (closed) return;
    timer = setTimeout(() => { beat().catch((e: Error) => o.onError?.(e)).finally(arm); }, intervalMs);
    timer.unref?.();
  };
  if (o.onList) o.directory.supernodes(50).then((l) => o.onList!(l.filter((s) => s.id !== id)), (e: Error) => o.onError?.(e));
  arm();
  return {
    get id() { return id; },
    close: () => { closed = true; if (timer) clearTimeout(timer); },
  };
}
