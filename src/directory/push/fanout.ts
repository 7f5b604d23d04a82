// Fan-out of push messages to recipients wherever they are connected.
// Contract: publish(userIds, message) resolves once the message is handed to
// every instance (local: delivered; Redis: PUBLISHed). LocalFanout serves one
// instance; RedisFanout serves several instances over one Redis: each
// instance publishes to CHANNEL and delivers what it receives to its own hub
// (so a message published through A reaches sockets connected to B).
import { Redis } from 'ioredis';
import type { PushHub } from './hub.ts';

/** Instance-to-instance messages (not for clients): token revocations, deleted accounts, view cache invalidations. */
export type ControlMessage =
  /** A committed write changed these users' contact lists / presence rows (view-cache.ts). */
  | { type: 'views'; contactsOf?: string[]; presenceOf?: string[] }
  | { type: 'revoke-token'; tokenHash: string }
  /** A device acknowledged a rendezvous on its push channel: no instance replays it again (replay.ts). */
  | { type: 'push-ack'; deviceId: string; id: string }
  /** A push channel (`channel`: its random id) of the device opened / closed: hub.ts noteOpen / noteClosed. */
  | { type: 'push-open'; deviceId: string; channel: string }
  | { type: 'push-close'; deviceId: string; channel: string }
  | { type: 'revoke-user'; userId: string; keepTokenHash: string }
  /** Every token of the user is gone and its push connections are closed (4001). */
  | { type: 'delete-user'; userId: string };

export interface Fanout {
  publish(userIds: readonly string[], message: object): Promise<void>;
  /** Delivers `m` to onControl of every instance, this one included. */
  publishControl(m: ControlMessage): Promise<void>;
  onControl(handler: (m: ControlMessage) => void): void;
  close(): Promise<void>;
}

export class LocalFanout implements Fanout {
  private control: (m: ControlMessage) => void = () => {};
  constructor(private readonly hub: PushHub) {}
  async publish(userIds: readonly string[], message: object): Promise<void> { if (userIds.length) this.hub.deliver(userIds, message); }
  async publishControl(m: ControlMessage): Promise<void> { this.control(m); }
  onControl(handler: (m: ControlMessage) => void): void { this.control = handler; }
  async close(): Promise<void> {}
}

export const CHANNEL = 'tincan:directory:push';

interface Envelope { to?: string[]; msg?: object; control?: ControlMessage }

/** `pub` is also usable for plain commands (shared login failure counters). */
export class RedisFanout implements Fanout {
  private constructor(readonly pub: Redis, private readonly sub: Redis) {}

  static async connect(url: string, hub: PushHub, onError: (e: Error) => void, channel = CHANNEL): Promise<RedisFanout> {
    const opts = { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 2000 };
    const pub = new Redis(url, opts), sub = new Redis(url, opts);
    pub.on('error', onError); sub.on('error', onError);
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(channel);
    } catch (e) {
      pub.disconnect(); sub.disconnect();
      throw new Error(`redis ${redactUrl(url)}: ${(e as Error).message}`);
    }
    const f = new RedisFanout(pub, sub);
    f.channel = channel;
    sub.on('message', (_ch: string, text: string) => {
      let env: Envelope;
      try { env = JSON.parse(text) as Envelope; } catch { return; }
      if (Array.isArray(env.to) && env.msg && typeof env.msg === 'object') hub.deliver(env.to.filter((x) => typeof x === 'string'), env.msg);
      else if (env.control && typeof env.control === 'object') f.control(env.control);
    });
    return f;
  }

  private channel = CHANNEL;
  private control: (m: ControlMessage) => void = () => {};

  onControl(handler: (m: ControlMessage) => void): void { this.control = handler; }

  async publishControl(m: ControlMessage): Promise<void> {
    this.control(m); // this instance at once, the others through Redis
    await this.pub.publish(this.channel, JSON.stringify({ control: m } satisfies Envelope));
  }

  async publish(userIds: readonly string[], message: object): Promise<void> {
    if (!userIds.length) return;
    await this.pub.publish(this.channel, JSON.stringify({ to: [...userIds], msg: message } satisfies Envelope));
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}

/** URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  try { const u = new URL(url); if (u.password) u.password = '***'; return u.toString(); } catch { return '<invalid url>'; }
}
