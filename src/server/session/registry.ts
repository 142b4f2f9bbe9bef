import type { Bus, DeviceClaim } from '../bus/bus.js';
import type { Connection } from './connection.js';

const deviceKey = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

/** The connection that holds a (user, device) on this instance, and its claim. */
export interface DeviceHold {
  connection: Connection;
  claim: DeviceClaim;
}

/** This instance's connections: all of them, by conversation joined, and by (user, device). */
export class Registry {
  readonly connections = new Set<Connection>();
  private readonly rooms = new Map<string, Set<Connection>>();
  private readonly devices = new Map<string, DeviceHold>();

  constructor(private readonly bus: Bus) {}

  members(conversationId: string): Iterable<Connection> {
    return this.rooms.get(conversationId) ?? [];
  }

  conversations(): Iterable<string> {
    return this.rooms.keys();
  }

  /** Adds a member; the first one on this instance subscribes the instance to the conversation. */
  async join(connection: Connection, conversationId: string): Promise<void> {
    const members = this.rooms.get(conversationId);
    if (members) return void members.add(connection);
    // A member before the subscription: if the bus is down, local delivery still works and the
    // bus subscribes when it comes back.
    this.rooms.set(conversationId, new Set([connection]));
    await this.bus.subscribe(conversationId);
  }

  async leave(connection: Connection, conversationId: string): Promise<void> {
    const members = this.rooms.get(conversationId);
    if (!members?.delete(connection) || members.size) return;
    this.rooms.delete(conversationId);
    await this.bus.unsubscribe(conversationId);
  }

  /** Records the newest connection of (user, device); returns the one it replaces on this instance. */
  claimDevice(connection: Connection, claim: DeviceClaim): Connection | undefined {
    const key = deviceKey(claim.user_id, claim.device_id);
    const older = this.devices.get(key)?.connection;
    this.devices.set(key, { connection, claim });
    return older === connection ? undefined : older;
  }

  deviceHolder(userId: string, deviceId: string): DeviceHold | undefined {
    return this.devices.get(deviceKey(userId, deviceId));
  }

  deviceHolds(): Iterable<DeviceHold> {
    return this.devices.values();
  }

  /** Forgets a closed connection everywhere. */
  async remove(connection: Connection, userId?: string, deviceId?: string): Promise<void> {
    this.connections.delete(connection);
    if (userId && deviceId && this.devices.get(deviceKey(userId, deviceId))?.connection === connection) this.devices.delete(deviceKey(userId, deviceId));
    await Promise.all([...connection.conversations()].map((id) => this.leave(connection, id)));
  }
}
