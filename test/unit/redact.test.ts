import { describe, expect, it } from 'vitest'
import { redact, redactValue, registerSecret } from '../../src/engine/redact.js'

describe('redaction', () => {
  it('masks registered values and well-known secret shapes', () => {
    registerSecret('hunter2-very-secret')
    expect(redact('password is hunter2-very-secret!')).toBe('password is ***!')
    const fakeKeyId = ['AKIA', 'ABCDEFGHIJKLMNOP'].join('') // assembled at run time: no key-shaped literal in the repo
    expect(redact(`key ${fakeKeyId} used`)).toBe('key *** used')
    expect(redact('postgresql://app:s3cr3tpw@db.example:5432/autolytiq')).toBe('postgresql://app:***@db.example:5432/autolytiq')
    expect(redact('rediss://:authTokenValue@cache:6379')).toBe('rediss://:***@cache:6379')
    expect(redact('Authorization: Bearer eyJhbGciOi.abc.def')).toBe('Authorization: Bearer ***')
    expect(redact('{"api_key": "re_abcdefghijklmnop"}')).not.toContain('re_abcdefghijklmnop')
    expect(redact('stripe sk_live_abcdefghijkl')).toBe('stripe ***')
  })

  it('leaves ordinary text alone', () => {
    const text = 'deal-service rolled out 3/3 replicas in 12s (image v1.2.3)'
    expect(redact(text)).toBe(text)
  })

  it('redacts deep values', () => {
    registerSecret('nested-secret-value')
    expect(redactValue({ a: [{ b: 'x nested-secret-value y' }] })).toEqual({ a: [{ b: 'x *** y' }] })
  })
})
