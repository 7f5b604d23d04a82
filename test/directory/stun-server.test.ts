// STUN server: behaviour over an in-memory socket, then real UDP on loopback with our
// codec as client, and the real Debian client turnutils_stunclient (coturn).
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { StunServer, startStunServer } from '../../src/directory/stun-server.ts';
import { bindUdp } from '../../src/datagram/udp.ts';
import type { DatagramHandler, DatagramSocket, UdpAddress } from '../../src/wire/socket.ts';
import { decodeStun, encodeStun, StunAttr, verifyStunFingerprint, type StunMessage } from '../../src/wire/stun.ts';
import { prng, randomBytes, toHex } from '../wire/fixtures.ts';

const TID = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
const CLIENT: UdpAddress = { address: '198.51.100.20', port: 40001 };

/** An in-memory DatagramSocket: records what the server sends. */
function memorySocket(local: UdpAddress): DatagramSocket & { sent: { to: UdpAddress; bytes: Uint8Array }[]; deliver: DatagramHandler } {
  let handler: DatagramHandler | undefined;
  const sent: { to: UdpAddress; bytes: Uint8Array }[] = [];
  return {
    local,
    sent,
    send: (to, bytes) => sent.push({ to, bytes: bytes.slice() }),
    onDatagram: (h) => { handler = h; },
    close: () => { handler = undefined; },
    deliver: (from, bytes) => handler?.(from, bytes),
  };
}

function ask(bytes: Uint8Array): { server: StunServer; replies: StunMessage[]; raw: Uint8Array[] } {
  const sock = memorySocket({ address: '203.0.113.1', port: 3478 });
  const server = new StunServer(sock);
  sock.deliver(CLIENT, bytes);
  return { server, replies: sock.sent.map((s) => decodeStun(s.bytes)), raw: sock.sent.map((s) => s.bytes) };
}

describe('StunServer behaviour', () => {
  it('answers a Binding request with XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, SOFTWARE and FINGERPRINT', () => {
    const { replies, raw, server } = ask(encodeStun({ method: 1, class: 'request', transactionId: TID }));
    expect(replies.length).toBe(1);
    const r = replies[0];
    expect([r.method, r.class]).toEqual([1, 'success']);
    expect(Array.from(r.transactionId)).toEqual(Array.from(TID));
    expect(r.xorMappedAddress).toEqual({ family: 4, ...CLIENT });
    expect(r.responseOrigin).toEqual({ family: 4, address: '203.0.113.1', port: 3478 });
    expect(r.software).toBe('tincan-stun');
    expect(verifyStunFingerprint(raw[0], r)).toBe(true);
    expect(r.attributes.at(-1)!.type).toBe(StunAttr.FINGERPRINT);
    expect(server.counters).toMatchObject({ requests: 1, successResponses: 1, internalErrors: 0 });
  });

  it('answers 420 listing unknown comprehension-required attributes', () => {
    const { replies } = ask(encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'raw', attrType: 0x7f01, value: Uint8Array.of(1) }] }));
    expect(replies[0].class).toBe('error');
    expect(replies[0].errorCode).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(replies[0].unknownAttributes).toEqual([0x7f01]);
  });

  it('answers 420 to CHANGE-REQUEST asking for another IP or port (single-address server), serves it when both flags are 0', () => {
    const changing = ask(encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp: true, changePort: false }] }));
    expect(changing.replies[0].errorCode?.code).toBe(420);
    expect(changing.replies[0].unknownAttributes).toEqual([StunAttr.CHANGE_REQUEST]);
    const plain = ask(encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp: false, changePort: false }] }));
    expect(plain.replies[0].class).toBe('success');
  });

  it('answers 400 to a malformed request and to other methods; ignores junk, indications and responses', () => {
    const broken = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'software', value: 'abcd' }] });
    broken[23] = 200; // SOFTWARE length runs past the end
    const bad = ask(broken);
    expect(bad.replies[0].errorCode?.code).toBe(400);
    expect(Array.from(bad.replies[0].transactionId)).toEqual(Array.from(TID));
    expect(ask(encodeStun({ method: 0x003, class: 'request', transactionId: TID })).replies[0].errorCode?.code).toBe(400);
    expect(ask(encodeStun({ method: 1, class: 'indication', transactionId: TID })).replies).toEqual([]);
    expect(ask(encodeStun({ method: 1, class: 'success', transactionId: TID })).replies).toEqual([]);
    expect(ask(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')).replies).toEqual([]);
    const badFp = encodeStun({ method: 1, class: 'request', transactionId: TID }, { fingerprint: true });
    badFp[badFp.length - 1] ^= 1;
    expect(ask(badFp).replies).toEqual([]);
  });

  it('survives 10,000 random and corrupted datagrams without an internal error', () => {
    const seed = 8489;
    const rand = prng(seed);
    const sock = memorySocket({ address: '203.0.113.1', port: 3478 });
    const server = new StunServer(sock);
    const valid = encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'software', value: 'x' }] }, { fingerprint: true });
    for (let i = 0; i < 10_000; i++) {
      const fromValid = rand() < 0.5;
      const b = fromValid ? valid.slice() : randomBytes(rand, (rand() * 60) | 0);
      if (fromValid) for (let k = 0; k < 1 + ((rand() * 3) | 0); k++) b[(rand() * b.length) | 0] ^= 1 << ((rand() * 8) | 0);
      sock.deliver(CLIENT, b);
    }
    expect(server.counters.internalErrors, `seed ${seed}`).toBe(0);
    for (const s of sock.sent) expect(() => decodeStun(s.bytes)).not.toThrow(); // every reply is well-formed
  });
});

describe('StunServer RFC 5780 behaviour discovery (four sockets)', () => {
  const A1P1 = { address: '203.0.113.1', port: 3478 };
  const A1P2 = { address: '203.0.113.1', port: 3479 };
  const A2P1 = { address: '203.0.113.2', port: 3478 };
  const A2P2 = { address: '203.0.113.2', port: 3479 };
  const setup = () => {
    const s = { primary: memorySocket(A1P1), altPort: memorySocket(A1P2), altIp: memorySocket(A2P1), altBoth: memorySocket(A2P2) };
    const server = new StunServer(s);
    return { s, server };
  };
  const request = (changeIp: boolean, changePort: boolean) =>
    encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp, changePort }] });

  it.each([
    [false, false, 'primary', A1P1], [false, true, 'altPort', A1P2], [true, false, 'altIp', A2P1], [true, true, 'altBoth', A2P2],
  ] as const)('change IP %s / port %s is answered from %s', (changeIp, changePort, via, origin) => {
    const { s, server } = setup();
    expect(server.supportsBehaviorDiscovery).toBe(true);
    s.primary.deliver(CLIENT, request(changeIp, changePort));
    const senders = Object.entries(s).filter(([, sock]) => sock.sent.length > 0).map(([name]) => name);
    expect(senders).toEqual([via]);
    const r = decodeStun(s[via].sent[0].bytes);
    expect(s[via].sent[0].to).toEqual(CLIENT);
    expect(r.xorMappedAddress).toEqual({ family: 4, ...CLIENT });
    expect(r.responseOrigin).toEqual({ family: 4, ...origin });
    expect(r.otherAddress).toEqual({ family: 4, ...A2P2 }); // relative to the receiving socket A1:P1
  });

  it('a request received on the alternate address names the primary as OTHER-ADDRESS', () => {
    const { s } = setup();
    s.altBoth.deliver(CLIENT, request(false, false));
    expect(decodeStun(s.altBoth.sent[0].bytes).otherAddress).toEqual({ family: 4, ...A1P1 });
  });

  it('RESPONSE-PORT sends the answer to that port of the client address', () => {
    const { s } = setup();
    s.primary.deliver(CLIENT, encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'response-port', port: 40999 }] }));
    expect(s.primary.sent[0].to).toEqual({ address: CLIENT.address, port: 40999 });
    expect(decodeStun(s.primary.sent[0].bytes).xorMappedAddress).toEqual({ family: 4, ...CLIENT });
  });
});

describe('the vectors in docs/protocol/stun.md', () => {
  // Strip the annotations: keep the hex groups of each vector line.
  const doc = readFileSync(new URL('../../docs/protocol/stun.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]
    .split('\n').map((l) => l.split(/\s{2,}/)[0].replace(/\s+/g, '')).join(''));
  const req = encodeStun({ method: 1, class: 'request', transactionId: TID });
  it('documents the Binding request and the server answers byte for byte', () => {
    expect(blocks).toContain(toHex(req));
    const srv = (bytes: Uint8Array) => {
      const sock = memorySocket({ address: '203.0.113.1', port: 3478 });
      new StunServer(sock);
      sock.deliver({ address: '198.51.100.20', port: 40001 }, bytes);
      return toHex(sock.sent[0].bytes);
    };
    expect(blocks).toContain(srv(req));
    expect(blocks).toContain(srv(encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp: true, changePort: true }] })));
  });
});

describe('StunServer on real UDP (loopback)', () => {
  it('our codec as client gets its own address back', async () => {
    const srv = await startStunServer({ address: '127.0.0.1', port: 0 });
    const client = await bindUdp({ address: '127.0.0.1' });
    try {
      const replies: StunMessage[] = [];
      client.onDatagram((_from, bytes) => replies.push(decodeStun(bytes)));
      client.send({ address: '127.0.0.1', port: srv.port }, encodeStun({ method: 1, class: 'request', transactionId: TID }));
      for (let i = 0; i < 200 && replies.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(replies.length).toBe(1);
      expect(replies[0].xorMappedAddress).toEqual({ family: 4, address: '127.0.0.1', port: client.local.port });
      expect(replies[0].responseOrigin).toEqual({ family: 4, address: '127.0.0.1', port: srv.port });
    } finally {
      client.close();
      await srv.close();
    }
  });

  it('the directory serves RFC 5780 with stunAlternateAddress: OTHER-ADDRESS, and CHANGE-REQUEST answered from the other address', async () => {
    const { startTestDirectory } = await import('./harness.ts');
    const t = await startTestDirectory('sqlite', { stunPort: 0, stunHost: '127.0.0.1', stunAlternateAddress: '127.0.0.2' });
    const client = await bindUdp({ address: '127.0.0.1' });
    try {
      const alt = t.dir.stunAlternate!;
      expect(alt.address).toBe('127.0.0.2');
      const got: { from: UdpAddress; msg: StunMessage }[] = [];
      client.onDatagram((from, bytes) => got.push({ from, msg: decodeStun(bytes) }));
      client.send({ address: '127.0.0.1', port: t.dir.stunPort! }, encodeStun({ method: 1, class: 'request', transactionId: TID }));
      client.send({ address: '127.0.0.1', port: t.dir.stunPort! }, encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp: true, changePort: true }] }));
      for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
      const origins = got.map((g) => `${g.from.address}:${g.from.port}`).sort();
      expect(origins).toEqual([`127.0.0.1:${t.dir.stunPort}`, `127.0.0.2:${alt.port}`].sort());
      for (const g of got) expect(g.msg.xorMappedAddress).toEqual({ family: 4, address: '127.0.0.1', port: client.local.port });
      expect(got.find((g) => g.from.address === '127.0.0.1')!.msg.otherAddress).toEqual({ family: 4, address: '127.0.0.2', port: alt.port });
    } finally {
      client.close();
      await t.stop();
    }
  });

  it('RFC 5780 on 127.0.0.1 + 127.0.0.2: each change request is answered from the right real address', async () => {
    const srv = await startStunServer({ address: '127.0.0.1', port: 0, alternateAddress: '127.0.0.2' });
    const client = await bindUdp({ address: '127.0.0.1' });
    try {
      expect(srv.other?.address).toBe('127.0.0.2');
      const got: { from: UdpAddress; msg: StunMessage }[] = [];
      client.onDatagram((from, bytes) => got.push({ from, msg: decodeStun(bytes) }));
      const cases: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
      for (const [changeIp, changePort] of cases) {
        client.send({ address: '127.0.0.1', port: srv.port }, encodeStun({ method: 1, class: 'request', transactionId: TID, attributes: [{ type: 'change-request', changeIp, changePort }] }));
      }
      for (let i = 0; i < 200 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 5));
      expect(got.length).toBe(4);
      const origins = got.map((g) => `${g.from.address}:${g.from.port}`).sort();
      const expected = [
        `127.0.0.1:${srv.port}`, `127.0.0.1:${srv.other!.port}`, `127.0.0.2:${srv.port}`, `127.0.0.2:${srv.other!.port}`,
      ].sort();
      expect(origins).toEqual(expected);
      for (const g of got) {
        expect(g.msg.responseOrigin).toEqual({ family: 4, ...g.from }); // RESPONSE-ORIGIN tells the truth
        expect(g.msg.xorMappedAddress).toEqual({ family: 4, address: '127.0.0.1', port: client.local.port });
      }
    } finally {
      client.close();
      await srv.close();
    }
  });

  const hasClient = spawnSync('sh', ['-c', 'command -v turnutils_stunclient'], { stdio: 'ignore' }).status === 0;
  if (!hasClient) console.log('skipped: turnutils_stunclient (Debian package coturn) is not installed');

  it.skipIf(!hasClient)('the real client turnutils_stunclient (coturn) reads the right reflexive address', async () => {
    const seen: UdpAddress[] = [];
    const srv = await startStunServer({
      address: '127.0.0.1',
      port: 0,
      bind: async (o) => {
        const s = await bindUdp(o);
        // record the source address of every datagram before the server sees it
        return {
          local: s.local,
          send: (to, b) => s.send(to, b),
          close: () => s.close(),
          onDatagram: (h) => s.onDatagram((from, b) => { seen.push(from); h(from, b); }),
        };
      },
    });
    try {
      const out = await runClient(['-p', String(srv.port), '127.0.0.1']);
      expect(out.code, out.stdout).toBe(0);
      expect(seen.length).toBeGreaterThan(0);
      const m = /UDP reflexive addr: (\d+\.\d+\.\d+\.\d+):(\d+)/.exec(out.stdout);
      expect(m, out.stdout).not.toBeNull();
      expect({ address: m![1], port: Number(m![2]) }).toEqual(seen[0]);
      expect(srv.server.counters).toMatchObject({ successResponses: seen.length, internalErrors: 0 });
    } finally {
      await srv.close();
    }
  });

  it.skipIf(!hasClient)('turnutils_stunclient -f (RFC 5780 mode) sees both addresses and all three responses', async () => {
    const srv = await startStunServer({ address: '127.0.0.1', port: 0, alternateAddress: '127.0.0.2' });
    try {
      const out = await runClient(['-f', '-p', String(srv.port), '127.0.0.1']);
      expect(out.code, out.stdout).toBe(0);
      expect(out.stdout).toContain('RFC 5780 response 3');
      expect(out.stdout).toContain(`Response origin: : 127.0.0.1:${srv.port}`);
      expect(out.stdout).toContain(`Response origin: : 127.0.0.2:${srv.other!.port}`);
      expect(out.stdout).toContain(`Other addr: : 127.0.0.2:${srv.other!.port}`);
      expect(srv.server.counters).toMatchObject({ errorResponses: 0, internalErrors: 0 });
    } finally {
      await srv.close();
    }
  });
});

/** Run turnutils_stunclient without blocking the event loop (the server runs in this process). */
function runClient(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('turnutils_stunclient', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stdout += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout }); });
  });
}
