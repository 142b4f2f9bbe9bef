import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackDir, untrackDir } from './cleanup.js';

export interface TempDirOwner {
  uid: number;
  gid: number;
}

/**
 * Creates a fresh directory under os.tmpdir(). `owner` exists for services
 * that refuse to run as root (postgres): the directory must belong to the
 * user they run as. Registered for removal at process exit.
 */
export async function makeTempDir(prefix: string, owner?: TempDirOwner): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  trackDir(dir);
  if (owner) await chown(dir, owner.uid, owner.gid);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  untrackDir(dir);
}
