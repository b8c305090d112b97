export const WALK_MAX_SPEED = 200

/**
 * Simulated speedometer: a random walk whose acceleration itself drifts, so the
 * speed rises and falls smoothly like a vehicle's instead of jittering.
 * Each call returns the next speed in km/h, in [0, WALK_MAX_SPEED], to one decimal.
 */
export function createSpeedWalk(startSpeed = 50, random: () => number = Math.random): () => number {
  let speed = startSpeed
  let acceleration = 0
  return () => {
    acceleration = acceleration * 0.8 + (random() - 0.5) * 5
    speed += acceleration
    if (speed < 0 || speed > WALK_MAX_SPEED) {
      speed = Math.min(WALK_MAX_SPEED, Math.max(0, speed))
      acceleration = -acceleration / 2 // bounce off the limit rather than sticking to it
    }
    return Math.round(speed * 10) / 10
  }
}
