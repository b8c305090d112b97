/**
 * A stand-in for the browser WebSocket, installed on globalThis by the tests. It
 * records what the page sends and lets the test play the server's part.
 */
export class FakeWebSocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3

  /** Every socket constructed since the last `reset()`, oldest first. */
  static instances: FakeWebSocket[] = []

  static reset() {
    FakeWebSocket.instances = []
  }

  static latest(): FakeWebSocket {
    const socket = FakeWebSocket.instances.at(-1)
    if (!socket) throw new Error('no WebSocket has been opened')
    return socket
  }

  readonly url: string
  readyState: number = FakeWebSocket.CONNECTING
  /** Text frames the page sent, in order. */
  readonly sent: string[] = []
  /** Frames the page tried to send once the socket was closing or closed (a browser drops them). */
  readonly sentAfterClose: string[] = []
  private echoedCount = 0
  onopen: ((event: Event) => void) | null = null
  onmessage: ((event: MessageEvent) => void) | null = null
  onclose: ((event: CloseEvent) => void) | null = null
  onerror: ((event: Event) => void) | null = null

  constructor(url: string | URL) {
    this.url = String(url)
    FakeWebSocket.instances.push(this)
  }

  send(data: string) {
    // Like the real thing: sending before open throws; after close it is dropped.
    if (this.readyState === FakeWebSocket.CONNECTING) throw new DOMException('still connecting', 'InvalidStateError')
    if (this.readyState !== FakeWebSocket.OPEN) this.sentAfterClose.push(data)
    else this.sent.push(data)
  }

  close(code = 1005) {
    if (this.readyState === FakeWebSocket.CLOSED) return
    this.serverClose(code)
  }

  /** Server accepts the connection. */
  serverOpen() {
    this.readyState = FakeWebSocket.OPEN
    this.onopen?.(new Event('open'))
  }

  /** Server sends one text frame; objects are sent as JSON. */
  serverSend(frame: string | object) {
    const data = typeof frame === 'string' ? frame : JSON.stringify(frame)
    this.onmessage?.(new MessageEvent('message', { data }))
  }

  /** Server echoes every frame the page has sent that it has not echoed yet. */
  serverEchoAll() {
    const pending = this.sent.slice(this.echoedCount)
    this.echoedCount = this.sent.length
    for (const text of pending) this.serverSend(text)
  }

  /** Connection ends (server closed it, or it never opened). */
  serverClose(code = 1006) {
    this.readyState = FakeWebSocket.CLOSED
    this.onclose?.(new CloseEvent('close', { code }))
  }
}
