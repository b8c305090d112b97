import { describe, expect, it } from 'vitest'
import { randomUuid } from './uuid'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('randomUuid', () => {
  it('uses crypto.randomUUID where it exists', () => {
    const source = { randomUUID: () => '11111111-1111-4111-8111-111111111111' as const, getRandomValues: crypto.getRandomValues.bind(crypto) }
    expect(randomUuid(source)).toBe('11111111-1111-4111-8111-111111111111')
  })

  it('builds a v4 UUID from random bytes outside secure contexts', () => {
    const allOnes = { getRandomValues: <T extends ArrayBufferView | null>(array: T) => {
      new Uint8Array(array!.buffer).fill(0xff)
      return array
    } }
    expect(randomUuid(allOnes)).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff')

    const real = { getRandomValues: crypto.getRandomValues.bind(crypto) }
    const ids = Array.from({ length: 100 }, () => randomUuid(real))
    for (const id of ids) expect(id).toMatch(UUID_V4)
    expect(new Set(ids).size).toBe(100)
  })
})
