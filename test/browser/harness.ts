// Browser-side helpers: the real server and extra tabs, driven through the test runner's
// server commands (test/browser/server-commands.mjs).
import { executeServerCommand } from '@web/test-runner-commands';
import type { ClientEvents, ConnectionState, LiveChatClient } from '../../src/client/index.js';
import { IdbChatStore } from '../../src/outbox/index.js';
import { clientFrame } from '../../src/protocol/index.js';

export interface ServerInfo {
  id: string;
  url: string;
  wsUrl: string;
  port: number;
}

async function command<T>(name: string, payload: unknown = {}): Promise<T> {
  return (await executeServerCommand(name, payload)) as T;
}

export const startChatServer = (env: Record<string, string> = {}) => command<ServerInfo>('lc-server-start', { env });
export const stopChatServer = (server: ServerInfo, signal = 'SIGTERM') => command<{ code: number | null; signal: string | null }>('lc-server-stop', { id: server.id, signal });
export const restartChatServer = (server: ServerInfo, options: { fresh?: boolean } = {}) => command<ServerInfo>('lc-server-restart', { id: server.id, ...options });
export const signalServer = (server: ServerInfo, signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL') => command<true>('lc-server-signal', { id: server.id, signal });
export const serverMetrics = (server: ServerInfo) => command<string>('lc-server-metrics', { id: server.id });
export const lockStore = (server: ServerInfo) => command<true>('lc-server-lock', { id: server.id });
export const unlockStore = (server: ServerInfo) => command<true>('lc-server-unlock', { id: server.id });
export const makeToken = (options: { sub: string; role?: 'user' | 'agent'; expSeconds?: number }) => command<string>('lc-token', options);

let counter = 0;
export const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns something truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string | (() => string), timeoutMs = 8000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(25);
  }
}

export const waitForState = (client: LiveChatClient, state: ConnectionState, timeoutMs?: number) =>
  waitFor(() => client.state === state, () => `state ${state} (now ${client.state})`, timeoutMs);

/**
 * Authenticates a raw socket as this browser profile's device for `sub` (its device id read from
 * IndexedDB), as a newer connection elsewhere would: the client's own connection gets 4009.
 */
export async function connectSameDevice(server: ServerInfo, sub: string, token: string, conversationId = sub): Promise<WebSocket> {
  const store = await IdbChatStore.open(`live-chat:${sub}@${new URL(server.wsUrl).host}`);
  const deviceId = await store.deviceId(conversationId);
  store.close();
  const socket = new WebSocket(server.wsUrl);
  await new Promise((resolve) => (socket.onopen = resolve));
  socket.send(JSON.stringify(clientFrame('auth', { token, device_id: deviceId })));
  return socket;
}

/** Compares the page with its kept screenshot; resolves the share of pixels that differ. */
export async function screenshotDifference(name: string): Promise<number> {
  const result = await command<{ created: boolean; differing: number; total: number }>('lc-screenshot', { name });
  return result.differing / result.total;
}

/** A WebSocket class that remembers its instances, so a test can act on the client's real socket. */
export function trackedWebSocket(): { WebSocket: typeof WebSocket; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return { WebSocket: Tracked, sockets };
}

/**
 * A WebSocket class (on `base`) whose incoming frames go through `filter` on their way to the
 * client: it hands each on with `deliver`, changed, held back, with others, or not at all.
 */
export function filteringIncoming(filter: (event: MessageEvent, deliver: (event: MessageEvent) => void) => void, base: typeof WebSocket = WebSocket): typeof WebSocket {
  return class extends base {
    override set onmessage(handler: ((event: MessageEvent) => void) | null) {
      super.onmessage = handler && ((event: MessageEvent) => filter(event, handler));
    }
    override get onmessage() {
      return super.onmessage;
    }
  };
}

/** Every event of one type a client emits, in order, with the time it came. */
export function record<K extends keyof ClientEvents>(client: LiveChatClient, type: K): { at: number; detail: ClientEvents[K] }[] {
  const seen: { at: number; detail: ClientEvents[K] }[] = [];
  client.on(type, (detail) => seen.push({ at: performance.now(), detail }));
  return seen;
}

/** The contents of a client's messages that the server has stored, in order. */
export const storedContents = (client: LiveChatClient) => client.messages.filter((m) => m.seq !== undefined).map((m) => m.content);

/** Another tab of this browser profile, running a LiveChatClient (test/browser/fixtures/tab.ts). */
export class Tab {
  private constructor(readonly id: string) {}

  /** `withoutLocks` removes navigator.locks from the tab before its client starts (older browsers). */
  static async open(params: { url: string; token: string; conversation?: string; timing?: object; withoutLocks?: boolean; page?: string }): Promise<Tab> {
    const query = new URLSearchParams({ url: params.url, token: params.token, timing: JSON.stringify(params.timing ?? {}) });
    if (params.withoutLocks) query.set('nolocks', '1');
    if (params.conversation) query.set('conversation', params.conversation);
    const id = await command<string>('lc-tab-open', { path: `${params.page ?? '/test/browser/fixtures/tab.html'}?${query}` });
    const tab = new Tab(id);
    if (!params.page) await waitFor(() => tab.eval('return window.client !== undefined'), 'the tab to start its client');
    return tab;
  }

  /** Runs `code` (a function body; `client` is the tab's LiveChatClient) in the tab and returns its result. */
  async eval<T = unknown>(code: string): Promise<T> {
    return (await command<{ value: T }>('lc-tab-eval', { id: this.id, code: `const client = window.client; ${code}` })).value;
  }

  close(): Promise<true> {
    return command<true>('lc-tab-close', { id: this.id });
  }
}
