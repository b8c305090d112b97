import { SpeedChart } from './components/SpeedChart'
import { MAX_CHART_POINTS, useSpeedSocket } from './hooks/useSpeedSocket'
import './App.css'

export default function App() {
  const { readyState, connectionId, points, receivedCount, lastError } = useSpeedSocket()
  const currentSpeed = points.at(-1)?.speed

  return (
    <main className="dashboard">
      <header className="dashboard__header">
        <div>
          <h1>Speedometer</h1>
          <p className="muted">Live speed telemetry</p>
        </div>
        <span className={`badge badge--${readyState}`}>
          <span className="badge__dot" aria-hidden="true" />
          <span data-testid="connection-state">{readyState}</span>
        </span>
      </header>

      <section className="stats">
        <article className="card">
          <h2>Current speed</h2>
          <p className="speed">
            <span data-testid="current-speed">{currentSpeed === undefined ? '–' : currentSpeed.toFixed(1)}</span>
            <span className="speed__unit">km/h</span>
          </p>
        </article>
        <article className="card">
          <h2>Echoed readings</h2>
          <p className="count" data-testid="echo-count">
            {receivedCount}
          </p>
        </article>
        <article className="card">
          <h2>Connection id</h2>
          <p className="connection">
            <code data-testid="connection-id">{connectionId ?? ''}</code>
            {connectionId === null && <span className="muted">waiting for server…</span>}
          </p>
        </article>
      </section>

      <section className="card chart-card">
        <h2>Last {MAX_CHART_POINTS} readings</h2>
        <SpeedChart points={points} />
      </section>

      {lastError && (
        <p className="last-error" role="status" data-testid="last-error">
          Last server error: <code>{lastError.code}</code> {lastError.message}
        </p>
      )}
    </main>
  )
}
