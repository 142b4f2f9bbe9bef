import type { ChatMessage, ReadAck, TypingEvent } from '../../protocol/index.js';

/** What travels between instances about one conversation. */
export type RoomEvent =
  | { kind: 'message'; message: ChatMessage }
  /** `origin` is the sending connection's id: typing and read receipts go to the others only. */
  | { kind: 'typing'; origin: string; payload: TypingEvent }
  | { kind: 'read'; origin: string; payload: ReadAck };

/** A connection of (user, device) completed its authentication at `at` (ms): older ones elsewhere must close 4009. */
export interface DeviceClaim {
  user_id: string;
  device_id: string;
  connection_id: string;
  at: number;
}

/** Which of two claims of one (user, device) is the newer: the later authentication, ties broken by connection id. */
export const isNewerClaim = (a: DeviceClaim, b: DeviceClaim): boolean =>
  a.at > b.at || (a.at === b.at && a.connection_id > b.connection_id);

export interface BusHandlers {
  event(conversationId: string, event: RoomEvent): void;
  /** Another instance's claim: an older connection of that (user, device) here closes 4009. */
  deviceClaim(claim: DeviceClaim): void;
  /** The claims of the devices held here, for claiming them again when claims may have been lost. */
  heldDevices(): Iterable<DeviceClaim>;
  /** Deliveries may have been missed (the link to the other instances came back): catch up from the store. */
  resync(): void;
}

/**
 * Publish/subscribe between server instances, per conversation. At most once: the store is the
 * truth, and a missed delivery is repaired from it (see `resync`).
 */
export interface Bus {
  /** Reaches the other instances subscribed to the conversation (this one delivers locally by itself). */
  publish(conversationId: string, event: RoomEvent): Promise<void>;
  subscribe(conversationId: string): Promise<void>;
  unsubscribe(conversationId: string): Promise<void>;
  /** Tells the other instances, which close their older connections of those (user, device)s. At most once, like the rest. */
  claimDevices(claims: readonly DeviceClaim[]): Promise<void>;
  /** False while the link to the other instances is down or does not answer (/healthz answers 503). */
  healthy(): boolean | Promise<boolean>;
  close(): Promise<void>;
}

export type BusFactory = (handlers: BusHandlers) => Promise<Bus>;
