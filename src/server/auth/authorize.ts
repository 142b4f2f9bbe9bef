import type { Identity } from './token-verifier.js';

/** A user may join only its own conversation (its id is the user's id); an agent may join any. */
export const mayJoin = (identity: Pick<Identity, 'userId' | 'role'>, conversationId: string): boolean =>
  identity.role === 'agent' || identity.userId === conversationId;
