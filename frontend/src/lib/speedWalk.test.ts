import { describe, expect, it } from 'vitest'
import { createSpeedWalk, WALK_MAX_SPEED } from './speedWalk'

describe('createSpeedWalk', () => {
  it('stays within 0..200 km/h, to one decimal, changing smoothly', () => {
    const nextSpeed = createSpeedWalk()
    let previous = 50
    const speeds: number[] = []
    for (let step = 0; step < 5_000; step++) {
      const speed = nextSpeed()
      expect(speed).toBeGreaterThanOrEqual(0)
      expect(speed).toBeLessThanOrEqual(WALK_MAX_SPEED)
      expect(Math.round(speed * 10) / 10).toBe(speed)
      expect(Math.abs(speed - previous)).toBeLessThanOrEqual(12.6) // |acceleration| stays below 2.5 / (1 - 0.8)
      speeds.push(speed)
      previous = speed
    }
    expect(new Set(speeds).size).toBeGreaterThan(100) // it actually moves
  })

  it('bounces off the limits', () => {
    const alwaysBrake = createSpeedWalk(1, () => 0)
    const speeds = Array.from({ length: 20 }, alwaysBrake)
    expect(Math.min(...speeds)).toBe(0)
    expect(speeds.every((speed) => speed >= 0)).toBe(true)
  })
})
