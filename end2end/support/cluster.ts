/**
 * A Courier cluster for the cluster spec: `scripts/cluster.sh` (PostgreSQL, nats-server, two nodes of
 * the prebuilt server binary, HAProxy in front), the same script `make cluster` runs.
 *
 * The script prints its table of what runs where once everything answers; we read the load balancer's
 * address and each node's port and log from it. It runs in its own process group and is stopped with
 * SIGTERM to that group, which stops every part by PID and throws the data away.
 *
 * Environment: COURIER_BIN (default <repo>/target/debug/courier), E2E_CLUSTER_PORT (HAProxy's port,
 * default E2E_PORT + 50, i.e. 3150).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_BIN, grantOperatorWith, REPO_ROOT, type OperatorHost } from './server';

const START_TIMEOUT_MS = Number(process.env.E2E_CLUSTER_START_TIMEOUT_MS ?? 300_000);

export type ClusterNode = { name: string; port: number; log: string };

export class CourierCluster implements OperatorHost {
  readonly port: number;
  readonly baseURL: string;
  nodes: ClusterNode[] = [];
  /** The database every node shares (the script's table prints it). */
  databaseUrl = '';
  private bin = '';
  private child: ChildProcess | null = null;
  private output = '';

  constructor(port: number) {
    this.port = port;
    this.baseURL = `http://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const bin = path.resolve(process.env.COURIER_BIN || DEFAULT_BIN);
    this.bin = bin;
    const child = spawn('bash', [path.join(REPO_ROOT, 'scripts', 'cluster.sh')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        COURIER_BIN: bin,
        COURIER_CLUSTER_PORT: String(this.port),
        COURIER_CLUSTER_NODES: '2',
        // The same lifted setup limits as the single-node e2e server (see server.ts).
        COURIER_CLUSTER_ENV: 'COURIER_SEND_RATE_PER_SEC=500 COURIER_SEND_BURST=1000',
        NO_COLOR: '1',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const collect = (d: Buffer) => {
      this.output += d.toString('utf8');
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!this.output.includes('Courier cluster running')) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`scripts/cluster.sh exited while starting:\n${this.output}`);
      }
      if (Date.now() > deadline) {
        this.stop();
        throw new Error(`the cluster did not start within ${START_TIMEOUT_MS} ms:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    // The table is printed in one go after the banner; give the pipe a moment to deliver all of it.
    const row = /courier (\d+)\s+http:\/\/127\.0\.0\.1:(\d+)\s+\d+\s+(\S+)/g;
    for (let i = 0; i < 50 && this.nodes.length < 2; i++) {
      this.nodes = [...this.output.matchAll(row)].map((m) => ({
        name: `node${m[1]}`,
        port: Number(m[2]),
        log: m[3],
      }));
      if (this.nodes.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    if (this.nodes.length < 2) throw new Error(`could not read the nodes from:\n${this.output}`);
    const db = /postgresql\s+(postgres\S+)/.exec(this.output);
    if (!db) throw new Error(`could not read the database URL from:\n${this.output}`);
    this.databaseUrl = db[1];
  }

  grantOperator(username: string): void {
    grantOperatorWith(this.bin, this.databaseUrl, username);
  }

  /** What the script printed, then the tail of each node's log (for a failed test's report). */
  report(maxBytes = 100_000): string {
    const parts = [`----- scripts/cluster.sh\n${this.output}`];
    for (const n of this.nodes) {
      try {
        const buf = fs.readFileSync(n.log);
        parts.push(`----- ${n.name} (${n.log})\n${buf.subarray(Math.max(0, buf.length - maxBytes)).toString('utf8')}`);
      } catch {
        parts.push(`----- ${n.name}: log not readable`);
      }
    }
    return parts.join('\n');
  }

  /** Stops every part (SIGTERM to the script's process group) and waits for the script to end. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    this.child = null;
    const done = new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) r();
      else child.once('exit', () => r());
    });
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const timeout = new Promise<void>((r) => setTimeout(r, 30_000));
    await Promise.race([done, timeout]);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* stopped cleanly */
    }
  }

  /** For process.on('exit'): synchronous, best effort. */
  killNow(): void {
    if (this.child?.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  }
}

/** The node a WebSocket connection is served by: the high bits of the id its `welcome` frame carries. */
export function nodeOfConnection(connectionId: number): number {
  return Math.floor(connectionId / 2 ** 32);
}
