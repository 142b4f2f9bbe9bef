import { CloseCode, serverFrame, type ClientFrameOf } from '../../protocol/index.js';
import { AuthError, KeysUnavailable } from '../auth/token-verifier.js';
import type { Connection } from './connection.js';
import type { Hub } from './hub.js';

/** The first frame: verifies the token, takes over the (user, device) slot, answers `auth`. A refused token closes 4001; keys that cannot be fetched, 4100. */
export async function authenticate(hub: Hub, connection: Connection, frame: ClientFrameOf<'auth'>): Promise<void> {
  let identity;
  try {
    identity = await hub.verifyToken(frame.payload.token);
  } catch (error) {
    if (error instanceof KeysUnavailable) {
      hub.log.warn({ err: error }, 'tokens cannot be checked: the JWKS is unavailable');
      connection.close(CloseCode.SERVER_ERROR, 'tokens cannot be checked now');
      return;
    }
    const reason = error instanceof AuthError ? error.message : 'token refused';
    if (!(error instanceof AuthError)) hub.log.warn({ err: error }, 'token verification failed');
    connection.close(CloseCode.AUTH_FAILED, reason);
    return;
  }
  if (connection.state !== 'awaiting-auth') return; // closed meanwhile (auth deadline)
  const deviceId = frame.payload.device_id;
  connection.identity = identity;
  connection.deviceId = deviceId;
  connection.state = 'authed';
  connection.watchExpiry(identity.expiresAt);
  if (deviceId) {
    const claim = { user_id: identity.userId, device_id: deviceId, connection_id: connection.id, at: Date.now() };
    hub.registry.claimDevice(connection, claim)?.close(CloseCode.REPLACED, 'replaced');
    hub.bus.claimDevices([claim]).catch((error: unknown) => hub.log.warn({ err: error }, 'could not announce the device to other instances'));
  }
  connection.send(serverFrame('auth', { success: true, user_id: identity.userId, role: identity.role, expires_at: identity.expiresAt.toISOString() }));
}
