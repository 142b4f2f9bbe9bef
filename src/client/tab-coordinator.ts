/**
 * One connection per device: the tabs of a browser profile elect one holder of the socket with
 * a Web Lock (released by the browser when the tab closes or crashes, so another tab takes over
 * at once) and talk to it over a BroadcastChannel.
 */
export class TabCoordinator<M> {
  private readonly channel: BroadcastChannel | undefined;
  private readonly abort = new AbortController();
  private release: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly name: string,
    onMessage: (message: M) => void,
  ) {
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : undefined;
    if (this.channel) this.channel.onmessage = (event: MessageEvent<M>) => onMessage(event.data);
  }

  /** Whether tabs can share one connection here (Web Locks and BroadcastChannel both present). */
  static get supported(): boolean {
    return typeof navigator !== 'undefined' && Boolean(navigator.locks) && typeof BroadcastChannel === 'function';
  }

  /** Calls `lead` once this tab holds the lock: at once if no other tab does, else when the holder goes. */
  elect(lead: () => void): void {
    navigator.locks
      .request(this.name, { signal: this.abort.signal }, () => {
        if (this.closed) return undefined;
        lead();
        return new Promise<void>((resolve) => (this.release = resolve));
      })
      .catch(() => undefined); // aborted by close()
  }

  post(message: M): void {
    if (!this.closed) this.channel?.postMessage(message);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.release?.();
    this.channel?.close();
  }
}
