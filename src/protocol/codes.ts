/** Error codes carried in `error` frames, with their fixed reasons (PROTOCOL.md, "Errors"). */
export const ErrorCode = {
  BAD_REQUEST: 4000,
  AUTH_FAILED: 4001,
  FORBIDDEN: 4003,
  NOT_IN_ROOM: 4005,
  RATE_LIMITED: 4008,
  REPLACED: 4009,
  SERVER_ERROR: 4100,
} as const;

export type ErrorReason = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorReason];

export const ERROR_REASONS = Object.keys(ErrorCode) as ErrorReason[];

/** The reason that goes with each code, so a frame can never pair them wrongly. */
export const reasonOf = (code: ErrorCodeValue): ErrorReason =>
  ERROR_REASONS.find((reason) => ErrorCode[reason] === code)!;

/** Whether the client may repeat the refused frame (after doing what the table says). */
export const RETRYABLE: Readonly<Record<ErrorReason, boolean>> = {
  BAD_REQUEST: false,
  AUTH_FAILED: false,
  FORBIDDEN: false,
  NOT_IN_ROOM: true,
  RATE_LIMITED: true,
  REPLACED: false,
  SERVER_ERROR: true,
};

/** WebSocket close codes used by the protocol. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  TOO_LARGE: 1009,
  AUTH_FAILED: 4001,
  REPLACED: 4009,
  SERVER_ERROR: 4100,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];
