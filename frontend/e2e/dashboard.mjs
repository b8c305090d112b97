#!/usr/bin/env node
// Browser check of the Speedometer dashboard against a running server.
//
//   node e2e/dashboard.mjs <base-url> [screenshot.png]
//
// Opens the page in headless Chromium and waits (at most 5 s after the page has
// loaded) until it shows a connection id and has plotted at least two echoed
// readings. On success prints one line of JSON to stdout:
//   {"connection_id":"…","points":N,"echo_count":N,"state":"open","websockets":1}
// On failure prints the reason to stderr and exits non-zero.
// CHROMIUM_PATH overrides the browser binary (default /usr/bin/chromium).

/* global document -- readDashboard and dashboardIsLive run inside the page */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const READY_TIMEOUT_MS = 5_000
const NAVIGATION_TIMEOUT_MS = 15_000
const MIN_POINTS = 2
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const [baseUrl, screenshotPath] = process.argv.slice(2)
if (!baseUrl) {
  console.error('usage: node e2e/dashboard.mjs <base-url> [screenshot.png]')
  process.exit(2)
}

/** Vite's dev server opens its own hot-reload socket (`/?token=…`); it is not the dashboard's. */
function isViteHotReloadSocket(url) {
  const parsed = new URL(url)
  return parsed.pathname === '/' && parsed.searchParams.has('token')
}

/** Reads the dashboard's test hooks; runs in the page. */
function readDashboard() {
  const text = (testId) => document.querySelector(`[data-testid="${testId}"]`)?.textContent ?? null
  const chart = document.querySelector('[data-testid="speed-chart"]')
  return {
    connection_id: text('connection-id'),
    points: Number(chart?.getAttribute('data-points') ?? 0),
    echo_count: Number(text('echo-count') ?? 0),
    state: text('connection-state'),
  }
}

/** The readiness condition; runs in the page. */
function dashboardIsLive({ minPoints }) {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
  const id = document.querySelector('[data-testid="connection-id"]')?.textContent ?? ''
  const state = document.querySelector('[data-testid="connection-state"]')?.textContent
  const points = Number(document.querySelector('[data-testid="speed-chart"]')?.getAttribute('data-points') ?? 0)
  return uuid.test(id.trim()) && state === 'open' && points >= minPoints
}

async function main() {
  const userDataDir = await mkdtemp(join(tmpdir(), 'speedometer-e2e-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  })
  const pageProblems = []
  const dashboardSockets = []
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    page.on('websocket', (socket) => {
      if (!isViteHotReloadSocket(socket.url())) dashboardSockets.push(socket.url())
    })
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console error: ${message.text()}`)
    })

    const response = await page.goto(baseUrl, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS })
    if (!response?.ok()) {
      throw new Error(`GET ${baseUrl} answered ${response?.status() ?? 'nothing'}`)
    }

    try {
      await page.waitForFunction(dashboardIsLive, { minPoints: MIN_POINTS }, { timeout: READY_TIMEOUT_MS, polling: 100 })
    } catch {
      const seen = await page.evaluate(readDashboard)
      throw new Error(
        `dashboard not live within ${READY_TIMEOUT_MS / 1000} s of page load ` +
          `(want a UUID connection id, state "open" and >= ${MIN_POINTS} chart points); ` +
          `saw ${JSON.stringify({ ...seen, websockets: dashboardSockets.length })}`,
      )
    }

    const result = { ...(await page.evaluate(readDashboard)), websockets: dashboardSockets.length }
    if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true })
    if (result.websockets !== 1) {
      throw new Error(`expected the page to open exactly 1 WebSocket, it opened ${result.websockets}: ${dashboardSockets.join(', ')}`)
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } catch (error) {
    console.error(`dashboard e2e failed: ${error instanceof Error ? error.message : error}`)
    for (const problem of pageProblems) console.error(`  ${problem}`)
    process.exitCode = 1
  } finally {
    await context.close()
    await rm(userDataDir, { recursive: true, force: true })
  }
}

await main()
