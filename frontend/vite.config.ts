/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

/** The Rust server that `npm run dev` forwards API and WebSocket traffic to. */
const backend = process.env.SPEEDOMETER_BACKEND ?? 'http://127.0.0.1:8765'

// https://vite.dev/config/
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/ws': {
        target: backend,
        ws: true,
        // The server refuses upgrades from foreign origins; through this proxy the
        // browser's origin is Vite's, so present the backend's own origin instead.
        configure: (proxy) => {
          proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader('origin', backend))
        },
      },
      '/send': backend,
      '/connections': backend,
      '/api': backend,
      '/healthz': backend,
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
})
