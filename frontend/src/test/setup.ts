import { cleanup } from '@testing-library/react'
import { afterEach, vi } from 'vitest'
import 'vitest-canvas-mock'

// jsdom has no layout, so no ResizeObserver; Chart.js needs one when responsive.
vi.stubGlobal(
  'ResizeObserver',
  class {
    observe() {}
    unobserve() {}
    disconnect() {}
  },
)

afterEach(() => {
  cleanup()
})
