/**
 * Starts, stops and restarts one prebuilt Courier server binary.
 *
 * Each Playwright worker owns one server (see fixtures.ts): its own port (E2E_PORT + parallelIndex,
 * default 3100) and its own fresh SQLite database in a temporary directory. Stopping and starting
 * again keeps the same database file and the same port, which is what the reconnect test needs.
 *
 * Environment:
 *   COURIER_BIN   server binary (default: <repo>/target/debug/courier)
 *   E2E_PORT      first port (default 3100)
 *   E2E_KEEP_DB=1 keep the temporary database directory after the run
 *   COURIER_DIST_DIR  client bundle (default: <repo>/dist)
 *   RUST_LOG      passed through (default "info")
 * The e2e operator (OPERATOR_NAME) gets its role as a server's operator grants it: `courier admin
 * grant-operator` run against the database (grantOperator below; actor.ts `operator()`).
 * Other COURIER_* variables in the environment (e.g. COURIER_RECALL_WINDOW_SECS) are passed through.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DEFAULT_BIN = path.join(REPO_ROOT, 'target', 'debug', 'courier');
export const DIST_DIR = path.resolve(process.env.COURIER_DIST_DIR || path.join(REPO_ROOT, 'dist'));

/**
 * The username the e2e servers (single node and cluster) name as their operator: the only user who
 * may use /message-test. Fixed, so a worker's tests share one such account (see actor.ts `operator`).
 */
export const OPERATOR_NAME = 'e2e_operator';

/**
 * Gives `username`'s existing account the operator role the way a server's operator does:
 * `courier admin grant-operator`, run beside the server against the same database (idempotent).
 */
export function grantOperatorWith(bin: string, databaseUrl: string, username: string): void {
  execFileSync(bin, ['admin', 'grant-operator', username], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, RUST_LOG: 'warn', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
}

/** Where an account can be made an operator: a single server or the cluster. */
export interface OperatorHost {
  grantOperator(username: string): void;
}

const START_TIMEOUT_MS = Number(process.env.E2E_SERVER_START_TIMEOUT_MS ?? 30_000);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
  });
}

export class CourierServer implements OperatorHost {
  readonly bin: string;
  readonly port: number;
  readonly baseURL: string;
  readonly dataDir: string;
  readonly dbPath: string;
  readonly databaseUrl: string;
  readonly logPath: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private exitInfo: string | null = null;
  /** How many times start() succeeded (1 after the first start). */
  starts = 0;

  /** Settings for this server over the defaults below and the environment (e.g. a low rate limit). */
  readonly extraEnv: Record<string, string>;

  constructor(opts: { port: number; logPath: string; env?: Record<string, string> }) {
    this.extraEnv = opts.env ?? {};
    this.bin = path.resolve(process.env.COURIER_BIN || DEFAULT_BIN);
    this.port = opts.port;
    this.baseURL = `http://127.0.0.1:${this.port}`;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'courier-e2e-'));
    this.dbPath = path.join(this.dataDir, 'e2e.db');
    this.databaseUrl = `sqlite://${this.dbPath}`;
    this.logPath = opts.logPath;
    fs.mkdirSync(path.dirname(this.logPath), { recursive: true });
  }

  grantOperator(username: string): void {
    grantOperatorWith(this.bin, this.databaseUrl, username);
  }

  isRunning(): boolean {
    return this.child !== null && this.exitInfo === null;
  }

  /** Current size of the log file; pass to logSince() to read what a test produced. */
  logOffset(): number {
    try {
      return fs.statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  logSince(offset: number, maxBytes = 200_000): string {
    try {
      const buf = fs.readFileSync(this.logPath);
      const start = Math.max(offset, buf.length - maxBytes);
      return buf.subarray(start).toString('utf8');
    } catch {
      return '';
    }
  }

  private note(line: string): void {
    fs.appendFileSync(this.logPath, `\n===== [e2e ${new Date().toISOString()}] ${line}\n`);
  }

  async start(): Promise<void> {
    if (this.isRunning()) return;
    if (!fs.existsSync(this.bin)) {
      throw new Error(
        `Courier server binary not found at ${this.bin}. Build it first (cargo build / make), ` +
          `or point COURIER_BIN at it.`,
      );
    }
    if (!fs.existsSync(path.join(DIST_DIR, 'index.html'))) {
      throw new Error(`Client bundle not found: ${DIST_DIR}/index.html. Build the client (trunk build) first.`);
    }
    // The previous process may still be releasing the port (e.g. a worker being replaced).
    const portDeadline = Date.now() + 10_000;
    while (await portIsOpen(this.port)) {
      if (Date.now() > portDeadline) {
        throw new Error(
          `Port ${this.port} is already in use by another process; stop it or set E2E_PORT to a free port.`,
        );
      }
      await sleep(200);
    }

    this.note(`starting ${this.bin} on ${this.baseURL} with ${this.databaseUrl}`);
    const out = fs.openSync(this.logPath, 'a');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      COURIER_ADDR: `127.0.0.1:${this.port}`,
      DATABASE_URL: this.databaseUrl,
      COURIER_DIST_DIR: DIST_DIR,
      // Short heartbeats so the half-open test sees a frozen server detected within seconds.
      COURIER_HEARTBEAT_INTERVAL_SECS: process.env.COURIER_HEARTBEAT_INTERVAL_SECS ?? '3',
      COURIER_HEARTBEAT_TIMEOUT_SECS: process.env.COURIER_HEARTBEAT_TIMEOUT_SECS ?? '8',
      // Setup traffic (hundreds of API sends) is not what these tests are about; the per-user
      // rate limit itself is tested in the Rust suite.
      COURIER_SEND_RATE_PER_SEC: process.env.COURIER_SEND_RATE_PER_SEC ?? '500',
      COURIER_SEND_BURST: process.env.COURIER_SEND_BURST ?? '1000',
      // Every test user registers from 127.0.0.1: lift the per-address abuse limits (they are
      // tested in the Rust suite).
      COURIER_REGISTRATIONS_PER_ADDR_PER_HOUR:
        process.env.COURIER_REGISTRATIONS_PER_ADDR_PER_HOUR ?? '100000',
      COURIER_LOGIN_FREE_FAILURES_PER_ADDR:
        process.env.COURIER_LOGIN_FREE_FAILURES_PER_ADDR ?? '100000',
      // Workers run side by side: each server gets its own metrics port.
      COURIER_METRICS_ADDR: process.env.COURIER_METRICS_ADDR ?? '127.0.0.1:0',
      RUST_LOG: process.env.RUST_LOG ?? 'info',
      RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '1',
      NO_COLOR: '1',
      ...this.extraEnv,
    };
    delete env.FORCE_COLOR;
    const child = spawn(this.bin, [], { cwd: REPO_ROOT, env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.child = child;
    this.exitInfo = null;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = `exited with code ${code} signal ${signal}`;
        this.note(`server process ${child.pid} ${this.exitInfo}`);
        resolve();
      });
      child.once('error', (err) => {
        this.exitInfo = `failed to spawn: ${err.message}`;
        resolve();
      });
    });

    const deadline = Date.now() + START_TIMEOUT_MS;
    let lastError = '';
    while (Date.now() < deadline) {
      if (this.exitInfo !== null) {
        throw new Error(
          `Courier server ${this.exitInfo} before becoming healthy. Log (${this.logPath}):\n` +
            this.logSince(0, 4000),
        );
      }
      try {
        const res = await fetch(`${this.baseURL}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) {
          this.starts += 1;
          this.note(`server pid ${child.pid} healthy`);
          return;
        }
        lastError = `GET /healthz -> ${res.status}`;
      } catch (e) {
        lastError = String((e as Error).message ?? e);
      }
      await sleep(100);
    }
    await this.stop('SIGKILL');
    throw new Error(
      `Courier server did not answer GET /healthz with 200 within ${START_TIMEOUT_MS} ms (last: ${lastError}). ` +
        `Log (${this.logPath}):\n${this.logSince(0, 4000)}`,
    );
  }

  /** Stops the server. SIGKILL simulates a crash; SIGTERM asks for a graceful shutdown. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || this.exitInfo !== null) {
      this.child = null;
      return;
    }
    this.note(`stopping server pid ${child.pid} with ${signal}`);
    child.kill(signal);
    const timedOut = await Promise.race([this.exited!.then(() => false), sleep(timeoutMs).then(() => true)]);
    if (timedOut) {
      this.note(`server pid ${child.pid} did not exit within ${timeoutMs} ms after ${signal}; sending SIGKILL`);
      child.kill('SIGKILL');
      await this.exited;
    }
    this.child = null;
  }

  /** Kills the process (crash by default) and starts it again on the same database and port. */
  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  /** Synchronous last-resort kill, for process exit handlers. */
  killNow(): void {
    if (this.child && this.exitInfo === null) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  cleanup(): void {
    if (process.env.E2E_KEEP_DB) return;
    try {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
  }
}
