/** Wire format of the Speedometer WebSocket (see the project's SPEC, section 3). */

/** What the dashboard sends once a second. */
export interface OutgoingReading {
  /** Client-generated UUID: the server stores a given id once, so resending is safe. */
  id: string
  /** km/h */
  speed: number
  /** RFC 3339, as `Date.prototype.toISOString` gives. */
  timestamp: string
}

/** One reading the server sent back, ready to plot. */
export interface SpeedPoint {
  /** km/h */
  speed: number
  /** Reading time, epoch milliseconds. */
  time: number
}

export interface ServerError {
  code: string
  message: string
}

export type ServerFrame =
  | { kind: 'connected'; connectionId: string }
  | { kind: 'error'; error: ServerError }
  | { kind: 'reading'; readingId: string | null; point: SpeedPoint }
  | { kind: 'unknown' }

/** Epoch numbers below this are seconds (`time.time()`), from here on milliseconds (`Date.now()`). */
const EPOCH_SECONDS_LIMIT = 1e11

/**
 * Reading time in epoch ms. Numbers are epoch seconds or milliseconds; strings are
 * anything `Date.parse` understands. A bare time of day, `null` or a missing value
 * fall back to `receivedAt`: the server accepted the reading, so it is close to now.
 */
export function timestampToEpochMs(timestamp: unknown, receivedAt: number): number {
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) {
    return timestamp < EPOCH_SECONDS_LIMIT ? timestamp * 1000 : timestamp
  }
  if (typeof timestamp === 'string') {
    const parsed = Date.parse(timestamp)
    if (!Number.isNaN(parsed)) return parsed
  }
  return receivedAt
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Classifies one text frame from the server. Anything unexpected is `unknown`, never a throw. */
export function parseServerFrame(text: string, receivedAt: number): ServerFrame {
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    return { kind: 'unknown' }
  }
  if (!isRecord(frame)) return { kind: 'unknown' }

  if (frame.type === 'connected' && typeof frame.connection_id === 'string') {
    return { kind: 'connected', connectionId: frame.connection_id }
  }
  if (frame.type === 'error') {
    return {
      kind: 'error',
      error: {
        code: typeof frame.code === 'string' ? frame.code : 'unknown_error',
        message: typeof frame.message === 'string' ? frame.message : '',
      },
    }
  }
  if (typeof frame.speed === 'number' && Number.isFinite(frame.speed)) {
    return {
      kind: 'reading',
      readingId: typeof frame.id === 'string' ? frame.id : null,
      point: { speed: frame.speed, time: timestampToEpochMs(frame.timestamp, receivedAt) },
    }
  }
  return { kind: 'unknown' }
}
