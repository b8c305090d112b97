import { act, render, screen } from '@testing-library/react'
import { StrictMode } from 'react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import App from './App'
import { FakeWebSocket } from './test/FakeWebSocket'

const CONNECTION_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b'

beforeEach(() => {
  vi.useFakeTimers()
  FakeWebSocket.reset()
  vi.stubGlobal('WebSocket', FakeWebSocket)
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('App', () => {
  it('shows the connection, the echoed readings and the chart', () => {
    render(
      <StrictMode>
        <App />
      </StrictMode>,
    )
    act(() => vi.advanceTimersByTime(0))
    expect(screen.getByTestId('connection-state').textContent).toBe('connecting')
    expect(screen.getByTestId('connection-id').textContent).toBe('')
    expect(screen.getByTestId('speed-chart').getAttribute('data-points')).toBe('0')

    const socket = FakeWebSocket.latest()
    act(() => {
      socket.serverOpen()
      socket.serverSend({ type: 'connected', connection_id: CONNECTION_ID })
      socket.serverSend({ speed: 42.5, timestamp: null })
    })
    act(() => vi.advanceTimersByTime(1_000))
    act(() => socket.serverEchoAll())

    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(screen.getByTestId('connection-state').textContent).toBe('open')
    expect(screen.getByTestId('connection-id').textContent).toBe(CONNECTION_ID)
    expect(screen.getByTestId('echo-count').textContent).toBe('3')
    expect(screen.getByTestId('speed-chart').getAttribute('data-points')).toBe('3')
    expect(screen.getByTestId('speed-chart').querySelector('canvas')).not.toBeNull()
    const lastSent = JSON.parse(socket.sent[1]) as { speed: number }
    expect(screen.getByTestId('current-speed').textContent).toBe(lastSent.speed.toFixed(1))
    expect(screen.queryByTestId('last-error')).toBeNull()

    act(() => socket.serverSend({ type: 'error', code: 'invalid_reading', message: 'speed out of range' }))
    expect(screen.getByTestId('last-error').textContent).toContain('invalid_reading')
    expect(screen.getByTestId('speed-chart').getAttribute('data-points')).toBe('3')
  })
})
