import { useEffect, useReducer } from 'react'
import { parseServerFrame, type OutgoingReading, type ServerError, type SpeedPoint } from '../lib/protocol'
import { createSpeedWalk } from '../lib/speedWalk'
import { randomUuid } from '../lib/uuid'

export const ReadyState = {
  /** First connection attempt in progress. */
  Connecting: 'connecting',
  Open: 'open',
  /** Connection lost; waiting for the next attempt. */
  Closed: 'closed',
  /** A later attempt in progress. */
  Reconnecting: 'reconnecting',
} as const
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState]

export interface SpeedSocketState {
  readyState: ReadyState
  /** Id the server gave the current connection; null until its welcome frame. */
  connectionId: string | null
  /** The readings the server sent back, oldest first, at most `maxPoints`. */
  points: SpeedPoint[]
  /** Every reading received so far, including those that scrolled out of `points`. */
  receivedCount: number
  lastError: ServerError | null
}

export interface Backoff {
  initialMs: number
  maxMs: number
}

export interface SpeedSocketOptions {
  /** Defaults to `/ws` on the page's own host. */
  url?: string
  sendIntervalMs?: number
  maxPoints?: number
  backoff?: Backoff
}

export const SEND_INTERVAL_MS = 1000
export const MAX_CHART_POINTS = 60
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000 }

export function dashboardSocketUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
}

/** Wait before reconnect attempt number `attempt` (0-based): doubling, capped. */
export function reconnectDelayMs(attempt: number, { initialMs, maxMs }: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(maxMs, initialMs * 2 ** attempt)
}

type SocketEvent =
  | { type: 'connecting'; isRetry: boolean }
  | { type: 'opened' }
  | { type: 'welcomed'; connectionId: string }
  | { type: 'received'; point: SpeedPoint; maxPoints: number }
  | { type: 'server-error'; error: ServerError }
  | { type: 'closed' }

const initialState: SpeedSocketState = {
  readyState: ReadyState.Connecting,
  connectionId: null,
  points: [],
  receivedCount: 0,
  lastError: null,
}

function reduce(state: SpeedSocketState, event: SocketEvent): SpeedSocketState {
  switch (event.type) {
    case 'connecting':
      return { ...state, readyState: event.isRetry ? ReadyState.Reconnecting : ReadyState.Connecting }
    case 'opened':
      return { ...state, readyState: ReadyState.Open }
    case 'welcomed':
      return { ...state, connectionId: event.connectionId }
    case 'received':
      return {
        ...state,
        points: [...state.points, event.point].slice(-event.maxPoints),
        receivedCount: state.receivedCount + 1,
      }
    case 'server-error':
      return { ...state, lastError: event.error }
    case 'closed':
      // The server names every connection afresh, so the old id means nothing now.
      return { ...state, readyState: ReadyState.Closed, connectionId: null }
  }
}

/**
 * Owns the dashboard's one WebSocket: connects, sends a simulated reading every
 * `sendIntervalMs` while open, collects what the server sends back, and reconnects
 * with capped exponential backoff. Components only read the returned state.
 */
export function useSpeedSocket({
  url,
  sendIntervalMs = SEND_INTERVAL_MS,
  maxPoints = MAX_CHART_POINTS,
  backoff = DEFAULT_BACKOFF,
}: SpeedSocketOptions = {}): SpeedSocketState {
  const [state, dispatch] = useReducer(reduce, initialState)
  const socketUrl = url ?? dashboardSocketUrl()
  const { initialMs, maxMs } = backoff

  useEffect(() => {
    let socket: WebSocket | null = null
    let connectTimer: ReturnType<typeof setTimeout> | undefined
    let sendTimer: ReturnType<typeof setInterval> | undefined
    let failedAttempts = 0
    let disposed = false
    const nextSpeed = createSpeedWalk()
    // Sent but not yet echoed, oldest first; resent after a reconnect (the server
    // stores an id only once). Capped so readings the server rejects cannot pile up.
    const unechoed = new Map<string, string>()

    const sendReading = () => {
      if (socket?.readyState !== WebSocket.OPEN) return
      const reading: OutgoingReading = { id: randomUuid(), speed: nextSpeed(), timestamp: new Date().toISOString() }
      const text = JSON.stringify(reading)
      unechoed.set(reading.id, text)
      if (unechoed.size > maxPoints) unechoed.delete(unechoed.keys().next().value as string)
      socket.send(text)
    }

    const handleMessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return
      const frame = parseServerFrame(event.data, Date.now())
      switch (frame.kind) {
        case 'connected':
          dispatch({ type: 'welcomed', connectionId: frame.connectionId })
          break
        case 'reading':
          if (frame.readingId !== null) unechoed.delete(frame.readingId)
          dispatch({ type: 'received', point: frame.point, maxPoints })
          break
        case 'error':
          dispatch({ type: 'server-error', error: frame.error })
          break
        case 'unknown':
          break
      }
    }

    const connect = (isRetry: boolean) => {
      dispatch({ type: 'connecting', isRetry })
      const ws = new WebSocket(socketUrl)
      socket = ws
      ws.onopen = () => {
        failedAttempts = 0
        dispatch({ type: 'opened' })
        for (const text of unechoed.values()) ws.send(text)
        sendReading()
        sendTimer = setInterval(sendReading, sendIntervalMs)
      }
      ws.onmessage = handleMessage
      ws.onclose = () => {
        clearInterval(sendTimer)
        if (disposed || socket !== ws) return
        socket = null
        dispatch({ type: 'closed' })
        const delay = reconnectDelayMs(failedAttempts++, { initialMs, maxMs })
        connectTimer = setTimeout(() => connect(true), delay)
      }
    }

    // Deferred so that StrictMode's throwaway first mount, which is cleaned up
    // synchronously, never opens a socket: the dev build makes exactly one.
    connectTimer = setTimeout(() => connect(false), 0)

    return () => {
      disposed = true
      clearTimeout(connectTimer)
      clearInterval(sendTimer)
      socket?.close(1000, 'dashboard closed')
      socket = null
    }
  }, [socketUrl, sendIntervalMs, maxPoints, initialMs, maxMs])

  return state
}
