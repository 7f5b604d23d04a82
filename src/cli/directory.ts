// `tincan directory`: run the directory service (HTTP API + push channel +
// STUN). Every flag has an environment variable; flags win. Logs are pino
// JSON lines on stdout (first: "directory listening" with the ports).
// SIGINT/SIGTERM: graceful shutdown (stop accepting, close push channels with
// 1001, finish in-flight requests, close Redis and the database), exit 0.
// --workers N (N > 1): N worker processes share the port (see
// directory/cluster.ts); the primary migrates the database and creates the key
// file first, logs "directory listening" once all workers listen, and stops
// them all on SIGINT/SIGTERM. STUN is served by the first worker.
import type { Command } from 'commander';
import cluster from 'node:cluster';
import { isIPv4 } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SCRYPT } from '../directory/password.ts';
import { runPrimary, reportListening, workerIndex } from '../directory/cluster.ts';
// The server, database drivers and key handling (fastify, kysely, pg, ioredis,
// sodium) load inside the action: other `tincan` commands do not pay for them.

interface Opts {
  listen: string; port: string; stunPort: string; stun: boolean; database?: string; redis?: string;
  keyFile?: string; dataDir: string; logLevel: string; scryptN: string; logRequests: boolean; trustProxy: boolean; workers: string; registrationLimit: string; deviceLimit: string; stunAlternateAddress?: string; stunAlternatePort?: string;
}

const env = (name: string) => process.env[name] || undefined;

function intOption(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}, got ${v}`);
  return n;
}

export function registerDirectory(program: Command): void {
  const dataDefault = env('TINCAN_DATA_DIR') ?? join(env('XDG_DATA_HOME') ?? join(homedir(), '.local', 'share'), 'tincan');
  program
    .command('directory')
    .description('run the directory: accounts, contacts, presence, supernodes, rendezvous (HTTP + WebSocket) and STUN (UDP)')
    .option('--listen <address>', 'HTTP listen address [env TINCAN_DIRECTORY_LISTEN]', env('TINCAN_DIRECTORY_LISTEN') ?? '127.0.0.1')
    .option('--port <port>', 'HTTP port, 0: any free port [env TINCAN_DIRECTORY_PORT]', env('TINCAN_DIRECTORY_PORT') ?? '7400')
    .option('--stun-port <port>', 'STUN UDP port on the listen address, 0: any free port [env TINCAN_STUN_PORT]', env('TINCAN_STUN_PORT') ?? '3478')
    .option('--no-stun', 'do not serve STUN')
    .option('--stun-alternate-address <ip>', 'RFC 5780: a second local IPv4 address for STUN (NAT behaviour discovery: OTHER-ADDRESS, CHANGE-REQUEST) [env TINCAN_STUN_ALTERNATE_ADDRESS]', env('TINCAN_STUN_ALTERNATE_ADDRESS'))
    .option('--stun-alternate-port <port>', 'RFC 5780: the second STUN port, with --stun-alternate-address (default: any free port) [env TINCAN_STUN_ALTERNATE_PORT]', env('TINCAN_STUN_ALTERNATE_PORT'))
    .option('--database <url>', 'SQLite file path or postgres:// URL [env TINCAN_DATABASE_URL] (default: <data-dir>/directory.sqlite)', env('TINCAN_DATABASE_URL'))
    .option('--redis <url>', 'redis:// URL: fan out push messages across directory instances [env TINCAN_REDIS_URL]', env('TINCAN_REDIS_URL'))
    .option('--key-file <path>', 'Ed25519 signing key file, created 0600 if missing [env TINCAN_DIRECTORY_KEY] (default: <data-dir>/directory-key)', env('TINCAN_DIRECTORY_KEY'))
    .option('--data-dir <dir>', 'data directory [env TINCAN_DATA_DIR]', dataDefault)
    .option('--log-level <level>', 'pino level: fatal, error, warn, info, debug [env TINCAN_LOG_LEVEL]', env('TINCAN_LOG_LEVEL') ?? 'info')
    .option('--no-log-requests', 'do not log one line per HTTP request')
    .option('--trust-proxy', 'behind a load balancer: client address from X-Forwarded-For [env TINCAN_TRUST_PROXY=1]', env('TINCAN_TRUST_PROXY') === '1')
    .option('--registration-limit <n>', 'account registrations per client address per hour, 0: no limit [env TINCAN_REGISTRATION_LIMIT]', env('TINCAN_REGISTRATION_LIMIT') ?? '20')
    .option('--device-limit <n>', 'devices one user may register, 0: no limit [env TINCAN_DEVICE_LIMIT]', env('TINCAN_DEVICE_LIMIT') ?? '16')
    .option('--workers <n>', 'worker processes sharing the HTTP port (use the cores of one machine) [env TINCAN_DIRECTORY_WORKERS]', env('TINCAN_DIRECTORY_WORKERS') ?? '1')
    .option('--scrypt-n <n>', `scrypt cost N for new password hashes (power of two) [env TINCAN_SCRYPT_N]`, env('TINCAN_SCRYPT_N') ?? String(DEFAULT_SCRYPT.N))
    .action(async (o: Opts) => {
      const port = intOption(o.port, '--port', 0, 65535);
      const stunPort = o.stun ? intOption(o.stunPort, '--stun-port', 0, 65535) : undefined;
      const N = intOption(o.scryptN, '--scrypt-n', 2, 1 << 20);
      if (N & (N - 1)) throw new Error(`--scrypt-n must be a power of two, got ${N}`);
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(o.logLevel)) throw new Error(`--log-level: unknown level ${o.logLevel}`);
      const workers = intOption(o.workers, '--workers', 1, 64);
      const registrationsPerAddress = intOption(o.registrationLimit, '--registration-limit', 0, 1_000_000);
      const maxDevicesPerUser = intOption(o.deviceLimit, '--device-limit', 0, 1_000_000);
      if (o.stunAlternatePort !== undefined && o.stunAlternateAddress === undefined) throw new Error('--stun-alternate-port needs --stun-alternate-address');
      if (o.stunAlternateAddress !== undefined && !isIPv4(o.stunAlternateAddress)) throw new Error(`--stun-alternate-address must be an IPv4 address, got ${o.stunAlternateAddress}`);
      const stunAlternatePort = o.stunAlternatePort === undefined ? undefined : intOption(o.stunAlternatePort, '--stun-alternate-port', 0, 65535);
      const databaseUrl = o.database ?? join(o.dataDir, 'directory.sqlite');
      const keyFile = o.keyFile ?? join(o.dataDir, 'directory-key');
      if (workers > 1 && cluster.isPrimary) return runClusterPrimary(workers, databaseUrl, keyFile, o.listen, o.logLevel);
      const worker = workerIndex();
      const { startDirectory } = await import('../directory/server.ts');
      const dir = await startDirectory({
        databaseUrl,
        redisUrl: o.redis,
        keyFile,
        host: o.listen, port, stunPort: worker ? undefined : stunPort,
        ...(o.stunAlternateAddress !== undefined ? { stunAlternateAddress: o.stunAlternateAddress, stunAlternatePort } : {}),
        logLevel: o.logLevel,
        config: { scrypt: { ...DEFAULT_SCRYPT, N }, logRequests: o.logRequests, trustProxy: o.trustProxy, registrationsPerAddress, maxDevicesPerUser },
        clusterWorker: worker !== undefined,
      });
      if (worker !== undefined) {
        await reportListening(dir.port, dir.stunPort);
        process.once('disconnect', () => stop('primary gone'));
      } else dir.logger.info({ publicKeyHex: Buffer.from(dir.publicKey).toString('hex') }, 'directory key');
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        dir.logger.info({ signal }, 'shutting down');
        const force = setTimeout(() => { dir.logger.error('shutdown timed out'); process.exit(1); }, 10_000);
        force.unref();
        dir.close().then(() => {
          dir.logger.info(worker === undefined ? 'stopped' : 'worker stopped'); dir.logger.flush(); process.exitCode = 0;
          if (worker !== undefined && process.connected) process.disconnect();
        }, (e: Error) => { dir.logger.error({ err: e.message }, 'shutdown failed'); process.exitCode = 1; });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}

/** The cluster primary: one-time preparation, then the workers (see directory/cluster.ts). */
async function runClusterPrimary(workers: number, databaseUrl: string, keyFile: string, host: string, logLevel: string): Promise<void> {
  const [{ makeLogger }, { openDatabase, engineOf }, { loadOrCreateSigningKey }] = await Promise.all([
    import('../directory/server.ts'), import('../directory/store/open.ts'), import('../directory/signing-key.ts'),
  ]);
  const logger = makeLogger(undefined, logLevel);
  const opened = await openDatabase(databaseUrl); // migrates once, before any worker opens it
  await opened.close();
  const key = loadOrCreateSigningKey(keyFile);
  logger.info({ publicKeyHex: Buffer.from(key.publicKey).toString('hex') }, 'directory key');
  const primary = runPrimary({
    workers,
    onListening: (port, stunPort) => logger.info({ host, port, stunPort, workers, engine: engineOf(databaseUrl) }, 'directory listening'),
    onWorkerExit: (id, code, signal, restarting) => { if (code !== 0) logger.warn({ worker: id, code, signal, restarting }, 'directory worker exited'); },
    onStopped: () => { logger.info('stopped'); logger.flush(); process.exitCode = 0; },
  });
  process.once('SIGINT', () => { logger.info({ signal: 'SIGINT' }, 'shutting down'); primary.stop('SIGTERM'); });
  process.once('SIGTERM', () => { logger.info({ signal: 'SIGTERM' }, 'shutting down'); primary.stop('SIGTERM'); });
}
