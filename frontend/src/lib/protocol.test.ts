import { describe, expect, it } from 'vitest'
import { parseServerFrame, timestampToEpochMs } from './protocol'

const NOW = Date.parse('2026-12-03T12:00:00Z')

describe('timestampToEpochMs', () => {
  it('reads epoch numbers below 1e11 as seconds and the rest as milliseconds', () => {
    expect(timestampToEpochMs(1_700_000_000, NOW)).toBe(1_700_000_000_000)
    expect(timestampToEpochMs(1_700_000_000.25, NOW)).toBe(1_700_000_000_250)
    expect(timestampToEpochMs(99_999_999_999, NOW)).toBe(99_999_999_999_000)
    expect(timestampToEpochMs(100_000_000_000, NOW)).toBe(100_000_000_000)
    expect(timestampToEpochMs(1_700_000_000_123, NOW)).toBe(1_700_000_000_123)
  })

  it('reads RFC 3339 strings with Z or an offset', () => {
    expect(timestampToEpochMs('2026-12-03T12:00:00.123Z', 0)).toBe(NOW + 123)
    expect(timestampToEpochMs('2026-12-03T14:00:00+02:00', 0)).toBe(NOW)
  })

  it('falls back to the receive time for a time of day, null or nothing', () => {
    expect(timestampToEpochMs('15:45:12', NOW)).toBe(NOW)
    expect(timestampToEpochMs(null, NOW)).toBe(NOW)
    expect(timestampToEpochMs(undefined, NOW)).toBe(NOW)
    expect(timestampToEpochMs(Number.NaN, NOW)).toBe(NOW)
  })
})

describe('parseServerFrame', () => {
  it('recognises the welcome frame', () => {
    expect(parseServerFrame('{"type":"connected","connection_id":"abc"}', NOW)).toEqual({
      kind: 'connected',
      connectionId: 'abc',
    })
  })

  it('recognises error frames', () => {
    expect(parseServerFrame('{"type":"error","code":"rate_limited","message":"slow down"}', NOW)).toEqual({
      kind: 'error',
      error: { code: 'rate_limited', message: 'slow down' },
    })
  })

  it('recognises an echoed reading and its id', () => {
    const echo = '{"id":"r-1","speed":88.8,"timestamp":"2026-12-03T12:00:00Z"}'
    expect(parseServerFrame(echo, 0)).toEqual({
      kind: 'reading',
      readingId: 'r-1',
      point: { speed: 88.8, time: NOW },
    })
  })

  it('recognises a pushed reading without id', () => {
    expect(parseServerFrame('{"speed":0,"timestamp":1700000000}', NOW)).toEqual({
      kind: 'reading',
      readingId: null,
      point: { speed: 0, time: 1_700_000_000_000 },
    })
  })

  it('calls everything else unknown', () => {
    for (const text of ['', 'nope', 'null', '42', '[]', '{"speed":"1"}', '{"type":"connected"}', '{}']) {
      expect(parseServerFrame(text, NOW)).toEqual({ kind: 'unknown' })
    }
  })
})
