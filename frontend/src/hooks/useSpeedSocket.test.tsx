import { act, renderHook } from '@testing-library/react'
import { StrictMode } from 'react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { OutgoingReading } from '../lib/protocol'
import { FakeWebSocket } from '../test/FakeWebSocket'
import { ReadyState, reconnectDelayMs, useSpeedSocket, type SpeedSocketOptions } from './useSpeedSocket'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const CONNECTION_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b'

function renderSpeedSocket(options?: SpeedSocketOptions) {
  const view = renderHook(() => useSpeedSocket(options), { wrapper: StrictMode })
  act(() => vi.advanceTimersByTime(0)) // let the deferred connect run
  return view
}

function advance(ms: number) {
  act(() => vi.advanceTimersByTime(ms))
}

/** Opens the latest socket and plays the server's welcome. */
function openAndWelcome(connectionId = CONNECTION_ID): FakeWebSocket {
  const socket = FakeWebSocket.latest()
  act(() => {
    socket.serverOpen()
    socket.serverSend({ type: 'connected', connection_id: connectionId })
  })
  return socket
}

function sentReadings(socket: FakeWebSocket): OutgoingReading[] {
  return socket.sent.map((text) => JSON.parse(text) as OutgoingReading)
}

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(new Date('2026-12-03T12:00:00.000Z'))
  FakeWebSocket.reset()
  vi.stubGlobal('WebSocket', FakeWebSocket)
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('useSpeedSocket', () => {
  it('opens exactly one socket under StrictMode, at /ws on the page host', () => {
    const { result } = renderSpeedSocket()
    advance(5_000)

    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(FakeWebSocket.latest().url).toBe(`ws://${window.location.host}/ws`)
    expect(result.current.readyState).toBe(ReadyState.Connecting)
  })

  it('takes the connection id from the welcome frame', () => {
    const { result } = renderSpeedSocket()
    expect(result.current.connectionId).toBeNull()

    openAndWelcome()

    expect(result.current.readyState).toBe(ReadyState.Open)
    expect(result.current.connectionId).toBe(CONNECTION_ID)
  })

  it('sends a reading as soon as it opens, then one a second', () => {
    renderSpeedSocket()
    const socket = openAndWelcome()
    expect(socket.sent).toHaveLength(1)

    advance(3_000)

    const readings = sentReadings(socket)
    expect(readings).toHaveLength(4)
    expect(new Set(readings.map((reading) => reading.id)).size).toBe(4)
    for (const reading of readings) {
      expect(reading.id).toMatch(UUID)
      expect(reading.speed).toBeGreaterThanOrEqual(0)
      expect(reading.speed).toBeLessThanOrEqual(200)
      expect(Math.round(reading.speed * 10) / 10).toBe(reading.speed)
    }
    expect(readings.map((reading) => reading.timestamp)).toEqual([
      '2026-12-03T12:00:00.000Z',
      '2026-12-03T12:00:01.000Z',
      '2026-12-03T12:00:02.000Z',
      '2026-12-03T12:00:03.000Z',
    ])
  })

  it('plots only the readings the server echoes, not those it sent', () => {
    const { result } = renderSpeedSocket()
    const socket = openAndWelcome()
    advance(2_000)
    expect(socket.sent).toHaveLength(3)
    expect(result.current.points).toEqual([])
    expect(result.current.receivedCount).toBe(0)

    act(() => socket.serverEchoAll())

    expect(result.current.points).toEqual(
      sentReadings(socket).map((reading) => ({ speed: reading.speed, time: Date.parse(reading.timestamp) })),
    )
    expect(result.current.receivedCount).toBe(3)
  })

  it('plots readings pushed through /send, whatever the timestamp form', () => {
    const { result } = renderSpeedSocket()
    const socket = openAndWelcome()

    act(() => {
      socket.serverSend({ speed: 10, timestamp: 1_796_299_200 }) // epoch seconds
      socket.serverSend({ speed: 20, timestamp: 1_796_299_200_500 }) // epoch milliseconds
      socket.serverSend({ speed: 30, timestamp: '2026-12-03T13:00:00+01:00' })
      socket.serverSend({ speed: 40, timestamp: null })
    })

    expect(result.current.points).toEqual([
      { speed: 10, time: 1_796_299_200_000 },
      { speed: 20, time: 1_796_299_200_500 },
      { speed: 30, time: Date.parse('2026-12-03T12:00:00Z') },
      { speed: 40, time: Date.now() },
    ])
    expect(result.current.receivedCount).toBe(4)
  })

  it('keeps the latest 60 points but counts every reading', () => {
    const { result } = renderSpeedSocket()
    const socket = openAndWelcome()

    act(() => {
      for (let speed = 1; speed <= 65; speed++) socket.serverSend({ speed, timestamp: null })
    })

    expect(result.current.points).toHaveLength(60)
    expect(result.current.points[0].speed).toBe(6)
    expect(result.current.points.at(-1)?.speed).toBe(65)
    expect(result.current.receivedCount).toBe(65)
  })

  it('shows the last server error without plotting it', () => {
    const { result } = renderSpeedSocket()
    const socket = openAndWelcome()

    act(() => {
      socket.serverSend({ type: 'error', code: 'invalid_json', message: 'first' })
      socket.serverSend({ type: 'error', code: 'invalid_reading', message: 'speed must be a number' })
    })

    expect(result.current.lastError).toEqual({ code: 'invalid_reading', message: 'speed must be a number' })
    expect(result.current.points).toEqual([])
    expect(result.current.receivedCount).toBe(0)
    expect(result.current.readyState).toBe(ReadyState.Open)
  })

  it('ignores frames it does not understand', () => {
    const { result } = renderSpeedSocket()
    const socket = openAndWelcome()

    act(() => {
      socket.serverSend('not json')
      socket.serverSend('[1, 2]')
      socket.serverSend({ speed: 'fast' })
      socket.serverSend({ type: 'something-new' })
    })

    expect(result.current.points).toEqual([])
    expect(result.current.lastError).toBeNull()
    expect(result.current.connectionId).toBe(CONNECTION_ID)
  })

  it('stops sending while closed and reconnects with doubling delays', () => {
    const { result } = renderSpeedSocket()
    const first = openAndWelcome()
    act(() => {
      first.serverEchoAll() // nothing left to resend, so the new socket carries only fresh readings
      first.serverClose()
    })

    expect(result.current.readyState).toBe(ReadyState.Closed)
    expect(result.current.connectionId).toBeNull()
    const sentBeforeClose = first.sent.length

    // Attempts at 500 ms, then 1 s, then 2 s after each failure.
    advance(499)
    expect(FakeWebSocket.instances).toHaveLength(1)
    advance(1)
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(result.current.readyState).toBe(ReadyState.Reconnecting)

    act(() => FakeWebSocket.latest().serverClose())
    advance(999)
    expect(FakeWebSocket.instances).toHaveLength(2)
    advance(1)
    expect(FakeWebSocket.instances).toHaveLength(3)

    act(() => FakeWebSocket.latest().serverClose())
    advance(1_999)
    expect(FakeWebSocket.instances).toHaveLength(3)
    advance(1)
    expect(FakeWebSocket.instances).toHaveLength(4)

    expect(first.sent).toHaveLength(sentBeforeClose)
    for (const socket of FakeWebSocket.instances) {
      expect(socket.sentAfterClose).toEqual([])
    }
    expect(FakeWebSocket.instances.slice(1).every((socket) => socket.sent.length === 0)).toBe(true)

    const secondId = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d'
    const current = openAndWelcome(secondId)
    expect(result.current.readyState).toBe(ReadyState.Open)
    expect(result.current.connectionId).toBe(secondId)
    advance(3_000)
    expect(current.sent).toHaveLength(4) // still one a second: no timer left over from the old socket
  })

  it('starts the backoff afresh after a successful connection', () => {
    renderSpeedSocket()
    act(() => FakeWebSocket.latest().serverClose())
    advance(500)
    act(() => FakeWebSocket.latest().serverClose())
    advance(1_000)
    expect(FakeWebSocket.instances).toHaveLength(3)

    openAndWelcome()
    act(() => FakeWebSocket.latest().serverClose())
    advance(500)
    expect(FakeWebSocket.instances).toHaveLength(4)
  })

  it('resends readings that were never echoed after reconnecting', () => {
    renderSpeedSocket()
    const first = openAndWelcome()
    advance(1_000)
    const [echoed, lost] = first.sent
    act(() => {
      first.serverSend(echoed)
      first.serverClose()
    })

    advance(500)
    const second = openAndWelcome('0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d')

    expect(second.sent[0]).toBe(lost)
    expect(second.sent).not.toContain(echoed)
    expect(second.sent).toHaveLength(2) // the resend, then a fresh reading
  })

  it('closes the socket on unmount and does not reconnect', () => {
    const { unmount } = renderSpeedSocket()
    const socket = openAndWelcome()

    unmount()
    advance(60_000)

    expect(socket.readyState).toBe(FakeWebSocket.CLOSED)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(socket.sent).toHaveLength(1)
    expect(socket.sentAfterClose).toEqual([])
  })
})

describe('reconnectDelayMs', () => {
  it('doubles from 500 ms and stops at 10 s', () => {
    const delays = Array.from({ length: 8 }, (_, attempt) => reconnectDelayMs(attempt))
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000])
  })
})
