import { useMemo } from 'react'
import {
  CategoryScale,
  Chart as ChartJS,
  Filler,
  LinearScale,
  LineElement,
  PointElement,
  Tooltip,
  type ChartData,
  type ChartOptions,
} from 'chart.js'
import { Line } from 'react-chartjs-2'
import type { SpeedPoint } from '../lib/protocol'

ChartJS.register(CategoryScale, LinearScale, PointElement, LineElement, Filler, Tooltip)

const SPEED_DATASET_ID = 'speed'
const LINE_COLOR = '#38bdf8'
const GRID_COLOR = 'rgba(148, 163, 184, 0.15)'
const TICK_COLOR = '#94a3b8'

const clockTime = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
})

const options: ChartOptions<'line'> = {
  animation: false, // a new point every second; animating each update only adds lag
  responsive: true,
  maintainAspectRatio: false,
  interaction: { mode: 'index', intersect: false },
  scales: {
    x: {
      ticks: { color: TICK_COLOR, maxTicksLimit: 8, maxRotation: 0, autoSkipPadding: 16 },
      grid: { color: GRID_COLOR },
    },
    y: {
      beginAtZero: true,
      suggestedMax: 200,
      ticks: { color: TICK_COLOR },
      grid: { color: GRID_COLOR },
      title: { display: true, text: 'km/h', color: TICK_COLOR },
    },
  },
  plugins: {
    tooltip: { callbacks: { label: (item) => `${item.formattedValue} km/h` } },
  },
}

export interface SpeedChartProps {
  /** Oldest first; the caller caps the window. */
  points: readonly SpeedPoint[]
}

/** Live line chart of speed over reading time. */
export function SpeedChart({ points }: SpeedChartProps) {
  const data = useMemo<ChartData<'line'>>(
    () => ({
      labels: points.map((point) => clockTime.format(point.time)),
      datasets: [
        {
          id: SPEED_DATASET_ID,
          label: 'Speed',
          data: points.map((point) => point.speed),
          borderColor: LINE_COLOR,
          backgroundColor: 'rgba(56, 189, 248, 0.15)',
          borderWidth: 2,
          fill: 'origin',
          tension: 0.3,
          pointRadius: 0,
          pointHoverRadius: 4,
        },
      ],
    }),
    [points],
  )

  return (
    <div className="speed-chart" data-testid="speed-chart" data-points={points.length}>
      <Line
        data={data}
        options={options}
        datasetIdKey="id"
        updateMode="none"
        role="img"
        aria-label={`Speed over time, ${points.length} readings`}
      />
    </div>
  )
}
