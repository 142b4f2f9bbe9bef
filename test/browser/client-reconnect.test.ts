// Reconnecting as PROTOCOL.md's client duties say, against the real server: the schedule and
// its jitter, what restarts it, the heartbeat on a hung server, and messages written while the
// server is down surviving a reload.
import { expect } from '@open-wc/testing';
import { LiveChatClient, NoToken, reconnectDelay, type LiveChatClientOptions } from '../../src/client/index.js';
import {
  makeToken,
  record,
  restartChatServer,
  signalServer,
  sleep,
  startChatServer,
  stopChatServer,
  storedContents,
  filteringIncoming,
  trackedWebSocket,
  uniqueId,
  waitFor,
  waitForState,
  type ServerInfo,
} from './harness.js';

const SCHEDULE = [0, 150, 300, 600, 1200];

describe('reconnect schedule (pure)', () => {
  it('follows 0, 1, 2, 4, 8 s with up to 20% jitter, then gives up', () => {
    const protocol = [0, 1000, 2000, 4000, 8000];
    expect(protocol.map((_, i) => reconnectDelay(i, protocol, 0.2, () => 0))).to.deep.equal(protocol);
    expect(protocol.map((_, i) => reconnectDelay(i, protocol, 0.2, () => 0.999999))).to.deep.equal([0, 1200, 2400, 4800, 9600]);
    for (let i = 0; i < 200; i++) {
      const attempt = i % 5;
      const delay = reconnectDelay(attempt, protocol, 0.2)!;
      expect(delay).to.be.within(protocol[attempt]!, protocol[attempt]! * 1.2);
    }
    expect(reconnectDelay(5, protocol, 0.2)).to.equal(null);
  });
});

describe('LiveChatClient reconnecting', () => {
  let server: ServerInfo;
  const clients: LiveChatClient[] = [];

  beforeEach(async () => {
    server = await startChatServer();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await stopChatServer(server).catch(() => undefined);
  });

  function open(options: Omit<LiveChatClientOptions, 'url'>): LiveChatClient {
    const client = new LiveChatClient({ url: server.wsUrl, timing: { reconnectDelaysMs: SCHEDULE }, ...options });
    clients.push(client);
    return client;
  }

  it('retries on the schedule with jitter inside its bounds, then stops', async () => {
    const client = open({ token: await makeToken({ sub: uniqueId('v') }) });
    await waitForState(client, 'connected');
    const states = record(client, 'state');
    await stopChatServer(server);
    await waitForState(client, 'stopped', 10_000);
    const attempts = states.filter((s) => s.detail.state === 'connecting').map((s) => s.at);
    const waits = states.filter((s) => s.detail.state === 'reconnecting').map((s) => s.at);
    expect(attempts).to.have.length(SCHEDULE.length);
    attempts.forEach((at, i) => {
      const waited = at - waits[i]!;
      // The step, plus at most 20% jitter, plus what a loaded machine adds to a timer.
      expect(waited, `wait before attempt ${i + 1}`).to.be.within(SCHEDULE[i]! - 5, SCHEDULE[i]! * 1.2 + 150);
    });
  });

  it('once stopped, tries again at once on online, on the page becoming visible, on send and on reconnect()', async () => {
    const visitor = uniqueId('v');
    const client = open({ token: await makeToken({ sub: visitor }) });
    await waitForState(client, 'connected');
    await stopChatServer(server);
    await waitForState(client, 'stopped', 10_000);
    const states = record(client, 'state');
    const restartedBy = async (trigger: () => void | Promise<unknown>) => {
      states.length = 0;
      await trigger();
      await waitFor(() => states.some((s) => s.detail.state === 'connecting'), 'a new attempt');
      await waitForState(client, 'stopped', 10_000);
    };
    await restartedBy(() => {
      window.dispatchEvent(new Event('online'));
    });
    await restartedBy(() => {
      document.dispatchEvent(new Event('visibilitychange')); // the test page is visible
    });
    await restartedBy(() => client.send('written while offline'));
    server = await restartChatServer(server);
    client.reconnect();
    await waitForState(client, 'connected');
    await waitFor(() => storedContents(client).includes('written while offline'), 'the queued message to be delivered');
  });

  it('while the schedule waits (reconnecting), a send does not cut it short: no storm of sockets from someone typing through an outage', async () => {
    const { WebSocket, sockets } = trackedWebSocket();
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), WebSocket, timing: { reconnectDelaysMs: [0, 3000, 3000] } });
    await waitForState(client, 'connected');
    const states = record(client, 'state');
    await stopChatServer(server);
    // The first try (at 0 s) has failed too: now the schedule waits 3 s.
    await waitFor(() => states.filter((s) => s.detail.state === 'reconnecting').length === 2, 'waiting on the schedule', 5000);
    const before = sockets.length;
    for (let i = 1; i <= 5; i++) {
      await client.send(`typed through the outage ${i}`);
      await sleep(100);
    }
    expect(sockets.length).to.equal(before);
    expect(client.state).to.equal('reconnecting');
    server = await restartChatServer(server);
    await waitFor(() => storedContents(client).length === 5, 'all five delivered by the scheduled try', 8000);
    expect(storedContents(client)).to.deep.equal([1, 2, 3, 4, 5].map((i) => `typed through the outage ${i}`));
  });

  it('a message written while the server is down, the page reloaded, then the server back: delivered exactly once, in order', async () => {
    const visitor = uniqueId('v');
    const token = await makeToken({ sub: visitor });
    const first = open({ token });
    await waitForState(first, 'connected');
    await first.send('before the outage');
    await waitFor(() => storedContents(first).length === 1, 'the first ack');
    await stopChatServer(server);
    for (let i = 1; i <= 5; i++) await first.send(`offline ${i}`);
    expect(first.messages.filter((m) => m.status === 'queued').length).to.equal(5);
    first.close(); // the page is reloaded (or the tab closed) while the server is still down

    server = await restartChatServer(server);
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitor });
    await waitForState(agent, 'connected');
    const second = open({ token });
    await second.ready;
    expect(second.messages.filter((m) => m.status === 'queued' || m.status === 'sending').map((m) => m.content)).to.deep.equal([1, 2, 3, 4, 5].map((i) => `offline ${i}`));
    const expected = ['before the outage', ...[1, 2, 3, 4, 5].map((i) => `offline ${i}`)];
    await waitFor(() => storedContents(agent).length === 6, 'six messages at the agent');
    await waitFor(() => storedContents(second).length === 6, 'six acks');
    await new Promise((r) => setTimeout(r, 300));
    expect(storedContents(agent)).to.deep.equal(expected);
    expect(storedContents(second)).to.deep.equal(expected);
    expect(second.messages.map((m) => m.seq)).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });

  /**
   * The network taken away as a phone loses signal: the socket goes silent (the server is frozen;
   * the browser's own offline mode would cut the test runner's connection too), navigator.onLine
   * turns false and `offline` fires. Online is the reverse.
   */
  async function setOffline(offline: boolean) {
    if (offline) {
      await signalServer(server, 'SIGSTOP');
      browserOffline(true);
    } else {
      await signalServer(server, 'SIGCONT');
      browserOffline(false);
    }
  }

  /** Only what the page sees of it: navigator.onLine and the `offline` / `online` events. */
  function browserOffline(offline: boolean) {
    if (offline) Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
    else delete (navigator as { onLine?: boolean }).onLine;
    window.dispatchEvent(new Event(offline ? 'offline' : 'online'));
  }

  it('the network lost (the socket goes silent, `offline` fires): offline at once, what is written stays queued, never failed; delivered once when it is back', async () => {
    const visitor = uniqueId('v');
    // Retries that would give up within the test: a send on the silent socket must not get that far.
    const timing = { reconnectDelaysMs: SCHEDULE, sendRetryMs: 200, sendTries: 2, openTimeoutMs: 300 };
    const client = open({ token: await makeToken({ sub: visitor }), timing });
    await waitForState(client, 'connected');
    try {
      await setOffline(true);
      await waitForState(client, 'offline', 1000);
      await client.send('written offline'); // tries again, as a send must, and finds no network
      await new Promise((r) => setTimeout(r, 1000));
      expect(client.state).to.not.equal('connected');
      expect(client.messages.map((m) => [m.content, m.status])).to.deep.equal([['written offline', 'queued']]);
    } finally {
      await setOffline(false);
    }
    await waitFor(() => storedContents(client).length === 1, 'delivered once online');
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitor });
    await waitFor(() => storedContents(agent).length === 1, 'stored');
    expect(storedContents(agent)).to.deep.equal(['written offline']);
  });

  /** A provider whose first token the server refuses (expired), so that the client asks it again for a fresh one. */
  async function refusedThenFresh(fresh: () => Promise<unknown>) {
    const sub = uniqueId('v');
    const [expired, valid] = await Promise.all([makeToken({ sub, expSeconds: -60 }), makeToken({ sub })]);
    let asked = 0;
    const provider = () => (++asked === 1 ? Promise.resolve(expired) : fresh().then(() => valid));
    return { provider, asked: () => asked };
  }

  it('offline while the token provider is asked, online before it answers: the late answer is dropped, one socket, connected', async () => {
    const { WebSocket, sockets } = trackedWebSocket();
    const { provider, asked } = await refusedThenFresh(() => new Promise((resolve) => setTimeout(resolve, 400)));
    const client = open({ tokenProvider: provider, WebSocket, timing: { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 1000 } });
    await waitFor(() => asked() === 2, 'a fresh token asked for after the refusal');
    try {
      browserOffline(true);
      await waitForState(client, 'offline', 300);
    } finally {
      browserOffline(false);
    }
    await waitForState(client, 'connected', 3000);
    await new Promise((r) => setTimeout(r, 1500)); // past the open timeout of any socket left behind
    expect(client.state).to.equal('connected');
    expect(sockets.filter((socket) => socket.readyState !== WebSocket.CLOSED).length).to.equal(1);
  });

  it('a token provider that fails while the browser is offline leaves the client offline (online tries again), not auth-failed', async () => {
    const { provider, asked } = await refusedThenFresh(() => (navigator.onLine ? Promise.resolve() : Promise.reject(new TypeError('Failed to fetch'))));
    // Offline before the `offline` event has arrived: the provider's fetch fails first.
    Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
    let client;
    try {
      client = open({ tokenProvider: provider, timing: { reconnectDelaysMs: SCHEDULE } });
      await waitFor(() => asked() === 2, 'a fresh token asked for after the refusal');
      await waitForState(client, 'offline', 1000);
    } finally {
      browserOffline(false);
    }
    await waitForState(client, 'connected', 3000);
  });

  it('a frame of a kind this client does not know (a newer server) arriving during the join is reported, and the join goes on', async () => {
    const { WebSocket: Tracked, sockets } = trackedWebSocket();
    const Newer = filteringIncoming((event, deliver) => {
      if (String(event.data).includes('"type":"history"')) deliver(new MessageEvent('message', { data: JSON.stringify({ type: 'presence', payload: { online: true }, timestamp: new Date().toISOString() }) }));
      deliver(event);
    }, Tracked);
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), WebSocket: Newer });
    const errors = record(client, 'error');
    await waitForState(client, 'connected', 3000);
    expect(sockets.length).to.equal(1);
    expect(errors.length).to.equal(1);
  });

  it('a live message arriving between a join\'s ack and its history (the contract allows it) is kept, and nothing held is dropped as if the store were reset', async () => {
    const conv = uniqueId('v');
    let holdHistory = false;
    let held: (() => void) | undefined;
    const { WebSocket: Tracked, sockets } = trackedWebSocket();
    const Late = filteringIncoming((event, deliver) => {
      const text = String(event.data);
      if (holdHistory && text.includes('"type":"history"')) {
        holdHistory = false;
        held = () => deliver(event);
        return;
      }
      deliver(event);
      if (held && text.includes('"type":"new_message"')) {
        const history = held;
        held = undefined;
        history();
      }
    }, Tracked);
    const client = open({ token: await makeToken({ sub: conv }), WebSocket: Late });
    await waitForState(client, 'connected');
    for (const text of ['one', 'two', 'three']) await client.send(text);
    await waitFor(() => storedContents(client).length === 3, 'three stored');
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: conv });
    await waitForState(agent, 'connected');
    const resets = record(client, 'reset');
    holdHistory = true;
    sockets.at(-1)!.close();
    await waitFor(() => held !== undefined, "the rejoin's history held back");
    await agent.send('while it joined');
    await waitFor(() => held === undefined && client.state === 'connected', 'the join to finish');
    await waitFor(() => storedContents(client).length === 4, () => `four messages, got ${JSON.stringify(storedContents(client))}`);
    expect(storedContents(client)).to.deep.equal(['one', 'two', 'three', 'while it joined']);
    expect(resets).to.deep.equal([]);
  });

  it("a join whose history the client cannot read is given up and tried again, not left 'joining' for good", async () => {
    let spoiled = 0;
    // The first history this client gets arrives unreadable (as one over the client's frame limit would).
    const Spoiling = filteringIncoming((event, deliver) => deliver(String(event.data).includes('"type":"history"') && !spoiled++ ? new MessageEvent('message', { data: '{"type":"history"' }) : event));
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), WebSocket: Spoiling });
    await waitForState(client, 'connected', 3000);
    expect(spoiled).to.be.greaterThan(1);
  });

  /** A token provider giving these answers in turn, then `last` for good; `asked()` counts its calls. */
  function answering(answers: (() => Promise<string>)[], last: string) {
    let asked = 0;
    return { provider: () => (answers[asked++] ?? (() => Promise.resolve(last)))(), asked: () => asked };
  }
  const never = () => new Promise<string>(() => undefined);

  /** A refused (expired) token first, then no answer, then a valid one. */
  async function refusedThenSilent() {
    const sub = uniqueId('v');
    const [expired, valid] = await Promise.all([makeToken({ sub, expSeconds: -60 }), makeToken({ sub })]);
    return answering([() => Promise.resolve(expired), never], valid);
  }

  it('a token provider that never answers is given up after the open timeout and asked again on the schedule', async () => {
    const { provider, asked } = answering([never], await makeToken({ sub: uniqueId('v') }));
    const client = open({ tokenProvider: provider, timing: { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 300 } });
    const states = record(client, 'state');
    await waitForState(client, 'connected', 3000);
    expect(asked()).to.equal(2);
    expect(states.map((s) => s.detail.state).slice(0, 2)).to.deep.equal(['reconnecting', 'connecting']);
  });

  it('a fresh token asked for after a refusal that never comes: given up after the open timeout like a socket, and asked again', async () => {
    const { provider, asked } = await refusedThenSilent();
    const client = open({ tokenProvider: provider, timing: { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 300 } });
    await waitForState(client, 'connected', 3000);
    expect(asked()).to.equal(3);
  });

  it('a fresh token slower than the open timeout is taken when it comes, by the next try: the client connects rather than running out of tries', async () => {
    const sub = uniqueId('v');
    const [expired, valid] = await Promise.all([makeToken({ sub, expSeconds: -60 }), makeToken({ sub })]);
    const { provider, asked } = answering([() => Promise.resolve(expired)], valid);
    const slow = () => (asked() === 0 ? provider() : sleep(450).then(provider));
    const client = open({ tokenProvider: slow, timing: { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 300 } });
    await waitForState(client, 'connected', 3000);
    expect(asked()).to.be.below(4);
  });

  it("reconnect() or close() called by a page's state listener while the first token is awaited is heard", async () => {
    const valid = await makeToken({ sub: uniqueId('v') });
    let answer = false;
    const provider = () => (answer ? Promise.resolve(valid) : never());
    const timing = { reconnectDelaysMs: [0], openTimeoutMs: 100 };
    const again = open({ tokenProvider: provider, timing });
    again.on('state', ({ state }) => {
      if (state !== 'stopped') return;
      answer = true;
      again.reconnect();
    });
    await waitForState(again, 'connected', 3000);
    answer = false;
    const closing = open({ tokenProvider: provider, timing });
    closing.on('state', ({ state }) => state === 'stopped' && closing.close());
    const sent = await Promise.race([closing.send('after close').then(() => 'sent', () => 'refused'), sleep(1500).then(() => 'still waiting')]);
    expect(sent).to.equal('refused');
  });

  it("a token provider that fails while online (its server down) is tried again like a connection, reported, never 'session expired'", async () => {
    const down = () => Promise.reject(new Error('token endpoint answered 503'));
    for (const refusedFirst of [false, true]) {
      const sub = uniqueId('v');
      const [expired, valid] = await Promise.all([makeToken({ sub, expSeconds: -60 }), makeToken({ sub })]);
      const answers = refusedFirst ? [() => Promise.resolve(expired), down] : [down];
      const { provider, asked } = answering(answers, valid);
      const client = open({ tokenProvider: provider });
      const states = record(client, 'state');
      const errors = record(client, 'error');
      await waitForState(client, 'connected', 3000);
      expect(asked()).to.equal(answers.length + 1);
      expect(states.some((s) => s.detail.state === 'auth-failed')).to.equal(false);
      expect(errors.map((e) => e.detail.message)).to.include('the token provider failed: token endpoint answered 503');
    }
  });

  it("a token provider that says there is no token (throws NoToken, or answers empty) ends in auth-failed, as a refused token does", async () => {
    for (const provider of [() => Promise.reject(new NoToken('signed out')), () => Promise.resolve('')]) {
      const client = open({ tokenProvider: provider });
      await waitForState(client, 'auth-failed', 3000);
    }
  });

  it('a page opened offline: the first token fails to come, the client is offline (not auth-failed) and connects on `online`', async () => {
    const valid = await makeToken({ sub: uniqueId('v') });
    let asked = 0;
    const provider = () => (asked++, navigator.onLine ? Promise.resolve(valid) : Promise.reject(new TypeError('Failed to fetch')));
    let client;
    Object.defineProperty(navigator, 'onLine', { configurable: true, get: () => false });
    try {
      client = open({ tokenProvider: provider });
      await waitForState(client, 'offline', 1000);
    } finally {
      browserOffline(false);
    }
    await waitForState(client, 'connected', 3000);
    expect(asked).to.equal(2);
  });

  for (const [which, provider, waiting, asks] of [
    ['the first token', async () => answering([never], await makeToken({ sub: uniqueId('v') })), 'idle', 1],
    ['a fresh token after a refusal', refusedThenSilent, 'connecting', 2],
  ] as const) {
    it(`${which} not answered yet does not hold the user's reconnect()`, async () => {
      const { provider: tokenProvider, asked } = await provider();
      const client = open({ tokenProvider, timing: { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 60_000 } });
      await waitFor(() => asked() === asks, 'the token asked for');
      await sleep(100);
      expect(client.state).to.equal(waiting);
      client.reconnect();
      await waitForState(client, 'connected', 1000);
      expect(asked()).to.equal(asks + 1);
    });
  }

  it("a try made offline that hangs on a dead link is cut short by `online`, and by the user's reconnect, not left to its 10 s open timeout", async () => {
    // A server that never answers stands for the dead link: its sockets open at the TCP level and go no further.
    const hole = await startChatServer();
    await signalServer(hole, 'SIGSTOP');
    let dead = false;
    class Link extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(dead ? hole.wsUrl : url, protocols);
      }
    }
    try {
      const client = open({ token: await makeToken({ sub: uniqueId('v') }), WebSocket: Link, timing: { reconnectDelaysMs: SCHEDULE } });
      await waitForState(client, 'connected');
      for (const [comeBack, how] of [[() => browserOffline(false), 'online'], [() => client.reconnect(), 'reconnect()']] as const) {
        dead = true;
        browserOffline(true);
        await waitForState(client, 'offline', 1000);
        await client.send(`written on a dead link, back by ${how}`); // it tries, as a send must, and the try hangs
        await sleep(200);
        expect(client.state).to.equal('connecting');
        dead = false;
        comeBack();
        await waitFor(() => storedContents(client).includes(`written on a dead link, back by ${how}`), `delivered after ${how}`, 3000);
        browserOffline(false);
      }
    } finally {
      await signalServer(hole, 'SIGCONT');
      await stopChatServer(hole);
    }
  });

  it('gives up a socket that does not open in time (the server takes the connection but never answers) and tries again', async () => {
    const timing = { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 300, pingAfterMs: 300, pongTimeoutMs: 300, heartbeatTickMs: 50 };
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), timing });
    await waitForState(client, 'connected');
    const states = record(client, 'state');
    await signalServer(server, 'SIGSTOP'); // the heartbeat drops the socket; the new one never opens
    try {
      await waitFor(() => states.some((s) => s.detail.previous === 'connecting' && s.detail.state === 'reconnecting'), 'connecting given up', 3000);
    } finally {
      await signalServer(server, 'SIGCONT');
    }
    await waitForState(client, 'connected', 5000);
  });

  it('gives up a socket whose auth is never answered (the server answers pings, not the auth) and tries again', async () => {
    let swallowed = 0;
    // The server's first auth answers do not reach the client (a server stuck on its key set, say); its pongs do.
    const Unanswered = filteringIncoming((event, deliver) => {
      if ((JSON.parse(event.data as string) as { type: string }).type === 'auth' && swallowed < 2) return void swallowed++;
      deliver(event);
    });
    const timing = { reconnectDelaysMs: SCHEDULE, openTimeoutMs: 300, pingAfterMs: 100, pongTimeoutMs: 300, heartbeatTickMs: 50 };
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), timing, WebSocket: Unanswered });
    const states = record(client, 'state');
    await waitForState(client, 'connected', 5000);
    expect(swallowed).to.equal(2);
    expect(states.filter((s) => s.detail.previous === 'authenticating' && s.detail.state === 'reconnecting')).to.have.length(2);
  });

  it('notices a hung server by its heartbeat (no pong in time) and reconnects', async () => {
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), timing: { reconnectDelaysMs: SCHEDULE, pingAfterMs: 300, pongTimeoutMs: 300, heartbeatTickMs: 50 } });
    await waitForState(client, 'connected');
    const states = record(client, 'state');
    await signalServer(server, 'SIGSTOP');
    try {
      await waitFor(() => states.some((s) => s.detail.state === 'reconnecting'), 'the dead socket to be noticed', 5000);
      const noticedAfter = states.find((s) => s.detail.state === 'reconnecting')!.at - states[0]!.at;
      expect(noticedAfter).to.be.below(2000);
    } finally {
      await signalServer(server, 'SIGCONT');
    }
    client.reconnect();
    await waitForState(client, 'connected', 10_000);
  });

  it('a wall clock set back while a ping waits for its pong does not put off noticing the dead socket', async () => {
    const client = open({ token: await makeToken({ sub: uniqueId('v') }), timing: { reconnectDelaysMs: SCHEDULE, pingAfterMs: 300, pongTimeoutMs: 300, heartbeatTickMs: 50 } });
    await waitForState(client, 'connected');
    const realNow = Date.now;
    await signalServer(server, 'SIGSTOP');
    try {
      await sleep(450); // the ping is out, and no pong comes
      const setBack = performance.now();
      Date.now = () => realNow() - 60_000; // the clock corrected by a minute, as on a network change
      await waitFor(() => client.state === 'reconnecting' || client.state === 'connecting', 'the dead socket to be noticed', 5000);
      expect(performance.now() - setBack).to.be.below(1000);
    } finally {
      Date.now = realNow;
      await signalServer(server, 'SIGCONT');
    }
    client.reconnect();
    await waitForState(client, 'connected', 10_000);
  });

  it('a stopped server closes sockets with 1001 and the client comes back when it is up again', async () => {
    const visitor = uniqueId('v');
    const client = open({ token: await makeToken({ sub: visitor }) });
    await waitForState(client, 'connected');
    const stopping = stopChatServer(server);
    await waitFor(() => client.state !== 'connected', 'the close');
    await stopping;
    server = await restartChatServer(server);
    client.reconnect();
    await waitForState(client, 'connected');
    await client.send('after restart');
    await waitFor(() => storedContents(client).includes('after restart'), 'the ack');
  });

  it('a server whose store was reset (its last_seq below the client\'s): the client drops its copy and takes the server\'s', async () => {
    const visitor = uniqueId('v');
    const client = open({ token: await makeToken({ sub: visitor }) });
    await waitForState(client, 'connected');
    for (let i = 1; i <= 3; i++) await client.send(`old ${i}`);
    await waitFor(() => storedContents(client).length === 3, 'acks');
    expect(client.highestSeq).to.equal(3);
    const resets = record(client, 'reset');
    server = await restartChatServer(server, { fresh: true });
    client.reconnect();
    await waitFor(() => resets.length, 'the reset');
    await waitForState(client, 'connected');
    expect(storedContents(client)).to.deep.equal([]);
    expect(client.highestSeq).to.equal(0);
    await client.send('new 1');
    await waitFor(() => storedContents(client).length === 1, 'the new ack');
    expect(client.messages.map((m) => m.seq)).to.deep.equal([1]);
    client.close();
    const reloaded = open({ token: await makeToken({ sub: visitor }) });
    await reloaded.ready;
    expect(storedContents(reloaded)).to.deep.equal(['new 1']); // the cache was dropped too
  });

  it('a server whose store was reset and has since grown past the client\'s numbering: noticed all the same, the client takes the server\'s copy', async () => {
    const visitor = uniqueId('v');
    const token = await makeToken({ sub: visitor });
    const first = open({ token });
    await waitForState(first, 'connected');
    for (let i = 1; i <= 3; i++) await first.send(`old ${i}`);
    await waitFor(() => storedContents(first).length === 3, 'acks');
    first.close(); // away while the store is reset and fills again
    server = await restartChatServer(server, { fresh: true });
    const agent = open({ token: await makeToken({ sub: uniqueId('agent'), role: 'agent' }), conversationId: visitor });
    await waitForState(agent, 'connected');
    for (let i = 1; i <= 5; i++) await agent.send(`new ${i}`);
    await waitFor(() => storedContents(agent).length === 5, 'the new store has 5');

    // Two tabs open on the cache while the server is away, so both are listening when the reset is found.
    await stopChatServer(server);
    const back = open({ token });
    const resets = record(back, 'reset');
    const otherTab = open({ token }); // shares one socket with back, as a second tab does
    await Promise.all([back.ready, otherTab.ready]);
    expect(storedContents(back)).to.deep.equal(['old 1', 'old 2', 'old 3']); // the cache, before the join
    server = await restartChatServer(server);
    back.reconnect();
    otherTab.reconnect();
    await waitFor(() => resets.length, 'the reset noticed');
    await waitFor(() => storedContents(back).length === 5, 'the server\'s copy');
    expect(storedContents(back)).to.deep.equal([1, 2, 3, 4, 5].map((i) => `new ${i}`));
    expect(back.messages.map((m) => m.seq)).to.deep.equal([1, 2, 3, 4, 5]);
    // Every tab knows where history ends in the new store, so none takes its page for news.
    await waitFor(() => storedContents(otherTab).length === 5, 'the other tab has it too');
    expect(resets.map((r) => r.detail.last_seq)).to.deep.equal([5]);
    expect(otherTab.joinedAtSeq).to.equal(back.joinedAtSeq);
  });
});

