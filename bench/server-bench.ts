// `npm run bench:server`: load on loopback against the built server, printing throughput, latency,
// CPU and memory. Options: --conversations C (1000) --rate R messages/s in all (2000) --seconds S (20)
// --idle N idle authenticated connections for the memory figure (5000, 0 skips it).
// --instances N (or a list, e.g. 1,2): instead of one server on SQLite, start a real PostgreSQL and
// redis-server (the test helpers) and N server instances on them, spread the connections over the
// instances round-robin (a conversation's user and agent on different instances when N > 1), and
// print the same throughput and latency numbers for each N, then a side-by-side summary.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { clientFrame, type ServerFrame } from '../src/protocol/index.js';
import { startPostgres, type PostgresInstance } from '../test/helpers/postgres.js';
import { startRedis, type RedisInstance } from '../test/helpers/redis.js';
import { startServer, TEST_JWT_SECRET, type ServerProcess } from '../test/helpers/server-process.js';

const { values } = parseArgs({
  options: {
    conversations: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    idle: { type: 'string', default: '5000' },
    instances: { type: 'string' },
  },
});
const CONVERSATIONS = Number(values.conversations);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const IDLE = Number(values.idle);
const INSTANCES = values.instances === undefined ? undefined : values.instances.split(',').map(Number);
if (INSTANCES && !INSTANCES.every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--instances takes whole numbers from 1, e.g. 2 or 1,2');

const secret = new TextEncoder().encode(TEST_JWT_SECRET);
const token = (sub: string, role: 'user' | 'agent') =>
  new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('2h').sign(secret);

interface Peer {
  ws: WebSocket;
  userId: string;
  conversationId: string;
  onFrame?: (frame: ServerFrame) => void;
}

/** Connects, authenticates and (optionally) joins; resolves once the join's history arrives. */
async function connect(wsUrl: string, userId: string, role: 'user' | 'agent', conversationId: string, join: boolean): Promise<Peer> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  const peer: Peer = { ws, userId, conversationId };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const ready = new Promise<void>((resolve, reject) => {
    ws.once('close', (code) => reject(new Error(`closed ${code} before ready`)));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ServerFrame;
      if (frame.type === 'auth' && !join) resolve();
      if (frame.type === 'history') resolve();
      peer.onFrame?.(frame);
    });
  });
  ws.send(JSON.stringify(clientFrame('auth', { token: await token(userId, role) })));
  if (join) ws.send(JSON.stringify(clientFrame('join_room', { conversation_id: conversationId })));
  await ready;
  return peer;
}

async function inBatches<T>(count: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => make(i + j)))));
  return out;
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function processStats(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuSeconds: ticks / 100, rssBytes: rssKb * 1024 };
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);
const ms = (n: number) => `${n.toFixed(1)} ms`;
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

interface ThroughputResult {
  sent: number;
  acked: number;
  delivered: number;
  errors: number;
  ack: { p50: number; p99: number; max: number };
  delivery: { p50: number; p99: number; max: number };
  cpuPercent: number;
}

/** The processes measured: the server instances, plus PostgreSQL and Redis when they run. */
const sumStats = (pids: number[]) =>
  pids
    .flatMap((pid) => {
      try {
        return [processStats(pid)];
      } catch {
        return []; // a PostgreSQL backend that exited meanwhile
      }
    })
    .reduce((a, b) => ({ cpuSeconds: a.cpuSeconds + b.cpuSeconds, rssBytes: a.rssBytes + b.rssBytes }), { cpuSeconds: 0, rssBytes: 0 });

async function throughput(servers: ServerProcess[], dependencyPids: () => number[] = () => []): Promise<ThroughputResult> {
  // Round-robin over the instances: with two, every user is on one and its agent on the other.
  let slot = 0;
  const nextServer = () => servers[slot++ % servers.length]!;
  const peers = (
    await inBatches(CONVERSATIONS, 50, async (i) => {
      const conversationId = `bench-user-${i}`;
      const userServer = nextServer();
      const agentServer = nextServer();
      return [await connect(userServer.wsUrl, conversationId, 'user', conversationId, true), await connect(agentServer.wsUrl, `bench-agent-${i}`, 'agent', conversationId, true)];
    })
  ).flat();
  const sentAt = new Map<string, number>();
  const ackLatency: number[] = [];
  const deliveryLatency: number[] = [];
  let delivered = 0;
  let errors = 0;
  for (const peer of peers) {
    peer.onFrame = (frame) => {
      const now = performance.now();
      if (frame.type === 'message_ack' && 'seq' in frame.payload && frame.payload.seq !== undefined) {
        const t = sentAt.get(frame.payload.message_id);
        if (t !== undefined) ackLatency.push(now - t);
      } else if (frame.type === 'new_message' && frame.payload.sender_id !== peer.userId) {
        const t = sentAt.get(frame.payload.message_id);
        if (t !== undefined) {
          deliveryLatency.push(now - t);
          delivered++;
        }
      } else if (frame.type === 'error') errors++;
    };
  }

  const serverPids = servers.map((server) => server.pid);
  const before = sumStats(serverPids);
  const beforeDeps = sumStats(dependencyPids());
  const started = performance.now();
  let sent = 0;
  let next = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= SECONDS) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor(elapsed * RATE) - sent;
      for (let k = 0; k < due; k++) {
        const peer = peers[next++ % peers.length]!;
        const frame = clientFrame('send_message', { conversation_id: peer.conversationId, content: `bench message ${sent}`, content_type: 'text' });
        sentAt.set(frame.message_id, performance.now());
        peer.ws.send(JSON.stringify(frame));
        sent++;
      }
    }, 5);
  });
  await new Promise((resolve) => setTimeout(resolve, 2000)); // let the last deliveries land
  const after = sumStats(serverPids);
  const afterDeps = sumStats(dependencyPids());
  const wall = SECONDS;
  ackLatency.sort((a, b) => a - b);
  deliveryLatency.sort((a, b) => a - b);
  const cpuPercent = ((after.cpuSeconds - before.cpuSeconds) / (wall + 2)) * 100;
  const where = servers.length > 1 ? `, ${servers.length} instances` : '';
  console.log(`throughput: ${CONVERSATIONS} conversations (${peers.length} connections${where}), offered ${RATE} messages/s for ${SECONDS} s`);
  console.log(`  sent ${sent}, acked ${ackLatency.length}, delivered to the other side ${delivered} (${(delivered / wall).toFixed(0)}/s), errors ${errors}`);
  console.log(`  ack latency      p50 ${ms(percentile(ackLatency, 50))}  p99 ${ms(percentile(ackLatency, 99))}  max ${ms(ackLatency.at(-1) ?? NaN)}`);
  console.log(`  delivery latency p50 ${ms(percentile(deliveryLatency, 50))}  p99 ${ms(percentile(deliveryLatency, 99))}  max ${ms(deliveryLatency.at(-1) ?? NaN)}`);
  const cpuWhat = servers.length > 1 ? `server CPU ${cpuPercent.toFixed(0)}% of one core (all instances)` : `server CPU ${cpuPercent.toFixed(0)}% of one core`;
  console.log(`  ${cpuWhat}, RSS ${mb(after.rssBytes)} (${((after.rssBytes / peers.length) / 1024).toFixed(1)} KiB per connection, under load)`);
  if (dependencyPids().length) console.log(`  PostgreSQL + Redis CPU ${(((afterDeps.cpuSeconds - beforeDeps.cpuSeconds) / (wall + 2)) * 100).toFixed(0)}% of one core`);
  for (const peer of peers) peer.ws.terminate();
  const pct = (sorted: number[]) => ({ p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN });
  return { sent, acked: ackLatency.length, delivered, errors, ack: pct(ackLatency), delivery: pct(deliveryLatency), cpuPercent };
}

async function singleServerThroughput(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'live-chat-bench-'));
  // The protocol's 30 a minute per user would cap the load far below the target, so it is lifted here.
  const server = await startServer({ DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`, RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'warn' });
  try {
    await throughput([server]);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** PostgreSQL's backends are children of the postmaster: their CPU counts too. */
function withChildren(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children.flatMap(withChildren)];
  } catch {
    return [];
  }
}

/** N instances on a fresh PostgreSQL and Redis, each run on its own so the runs do not share data. */
async function clusterRun(instances: number): Promise<ThroughputResult> {
  let pg: PostgresInstance | undefined;
  let redis: RedisInstance | undefined;
  const servers: ServerProcess[] = [];
  try {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const env = { DATABASE_URL: pg.url, REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'warn' };
    for (let i = 0; i < instances; i++) servers.push(await startServer(env));
    const deps = () => [...withChildren(pg!.pid), redis!.pid];
    // The idle-memory figure does not depend on the bus or the store: it is measured in the default run only.
    return await throughput(servers, deps);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await Promise.all([redis?.stop(), pg?.destroy()]);
  }
}

async function idleMemory(): Promise<void> {
  const servers = [await startServer({ LOG_LEVEL: 'warn', IDLE_TIMEOUT_MS: '3600000', PING_INTERVAL_MS: '1800000' })];
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pids = servers.map((server) => server.pid);
    const before = sumStats(pids);
    const peers = await inBatches(IDLE, 100, (i) => connect(servers[i % servers.length]!.wsUrl, `idle-${i}`, 'user', `idle-${i}`, false));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const after = sumStats(pids);
    const where = servers.length > 1 ? ` over ${servers.length} instances` : '';
    console.log(`idle: ${IDLE} authenticated connections${where}`);
    console.log(`  server RSS ${mb(before.rssBytes)} before, ${mb(after.rssBytes)} after: ${((after.rssBytes - before.rssBytes) / IDLE / 1024).toFixed(1)} KiB per connection`);
    for (const peer of peers) peer.ws.terminate();
  } finally {
    await servers[0]!.stop();
  }
}

console.log(`live-chat server benchmark (node ${process.version}, loopback, generator and server on the same machine)`);
if (INSTANCES === undefined) {
  await singleServerThroughput();
  if (IDLE > 0) await idleMemory();
} else {
  const results: [number, ThroughputResult][] = [];
  for (const n of INSTANCES) {
    console.log(`\n${n} instance${n > 1 ? 's' : ''} on PostgreSQL and Redis`);
    results.push([n, await clusterRun(n)]);
  }
  if (results.length > 1) {
    const cell = (text: string) => text.padStart(22);
    const row = (label: string, f: (r: ThroughputResult) => string) => console.log(`  ${label.padEnd(26)}${results.map(([, r]) => cell(f(r))).join('')}`);
    console.log(`\nside by side (${CONVERSATIONS} conversations, ${RATE} messages/s offered for ${SECONDS} s)`);
    console.log(`  ${''.padEnd(26)}${results.map(([n]) => cell(`${n} instance${n > 1 ? 's' : ''}`)).join('')}`);
    row('delivered per second', (r) => (r.delivered / SECONDS).toFixed(0));
    row('acked / sent', (r) => `${r.acked} / ${r.sent}`);
    row('errors', (r) => String(r.errors));
    row('ack p50 / p99', (r) => `${r.ack.p50.toFixed(1)} / ${r.ack.p99.toFixed(1)} ms`);
    row('delivery p50 / p99', (r) => `${r.delivery.p50.toFixed(1)} / ${r.delivery.p99.toFixed(1)} ms`);
    row('server CPU (one core = 100%)', (r) => `${r.cpuPercent.toFixed(0)}%`);
  }
}
process.exit(0);
