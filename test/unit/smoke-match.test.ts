import { describe, expect, it } from 'vitest'
import { createHmac } from 'node:crypto'
import { getPath, jwtProblem, mismatches } from '../../src/smoke/match.js'
import { MissingVariable, substitute, variablesIn } from '../../src/smoke/template.js'
import { isNonProductionAddress } from '../../src/smoke/runner.js'

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
function token(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const head = `${b64(header)}.${b64(payload)}`
  return `${head}.${createHmac('sha256', 'k').update(head).digest('base64url')}`
}

describe('expectation matchers', () => {
  it('accept the shapes they name', () => {
    const body = { id: 'u1', n: 3, list: [], items: [{ a: 1 }], token: token({ sub: 'u1', exp: Math.floor(Date.now() / 1000) + 60 }) }
    expect(mismatches({ id: '$string', n: '$number', list: '$array', items: '$nonEmptyArray', token: '$jwt' }, body)).toEqual([])
  })

  it('say which path failed, what was expected and what came back', () => {
    expect(mismatches({ id: '$string', items: '$nonEmptyArray', n: '$number', list: '$array' }, { id: '', items: [], n: '3' })).toEqual([
      'id: expected a non-empty string, got ""',
      'items: expected a non-empty array, got []',
      'n: expected a number, got "3"',
      'list: expected an array, got nothing',
    ])
  })

  it('compare literal values deeply, with floating-point tolerance for money', () => {
    expect(mismatches({ rate: 0.095, tax: 2850, total: 32850 }, { rate: 0.095, tax: 30000 * 0.095, total: 32850 })).toEqual([])
    expect(mismatches({ tax: 2850, status: 'queued' }, { tax: 2700, status: 'sent' })).toEqual([
      'tax: expected 2850, got 2700',
      'status: expected "queued", got "sent"',
    ])
  })

  it('read dotted paths into nested objects and arrays', () => {
    expect(getPath({ a: { b: [{ c: 7 }] } }, 'a.b.0.c')).toBe(7)
    expect(getPath({ a: 1 }, 'a.b.c')).toBeUndefined()
  })
})

describe('$jwt', () => {
  it('accepts a signed token with a future expiry', () => {
    expect(jwtProblem(token({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 3600 }))).toBeUndefined()
  })

  it('rejects what a broken auth-service would return', () => {
    expect(jwtProblem('not-a-token')).toBe('expected a JWT (header.payload.signature)')
    expect(jwtProblem(42)).toBe('expected a JWT, got 42')
    expect(jwtProblem(token({ sub: 'x' }, { alg: 'none' }))).toBe('JWT is unsigned (alg "none")')
    expect(jwtProblem(`${b64({ typ: 'JWT' })}.${b64({})}.sig`)).toBe('JWT header is not JSON with an "alg"')
    expect(jwtProblem(`${b64({ alg: 'HS256' })}.bm90IGpzb24.sig`)).toBe('JWT payload is not JSON')
    expect(jwtProblem(token({ sub: 'x', exp: 1_000_000_000 }))).toBe('JWT expired at 2001-09-09T01:46:40.000Z')
  })
})

describe('${var} substitution', () => {
  it('keeps the type of a whole-string placeholder and splices embedded ones', () => {
    const vars = { price: 30000, dealId: 'a/b', smokeEmail: 's@example.test' }
    expect(substitute({ price: '${price}', to: '${smokeEmail}', nested: ['x-${dealId}'] }, vars)).toEqual({
      price: 30000,
      to: 's@example.test',
      nested: ['x-a/b'],
    })
    expect(substitute('/api/v1/deals/${dealId}', vars, encodeURIComponent)).toBe('/api/v1/deals/a%2Fb')
  })

  it('names a missing variable instead of sending "undefined"', () => {
    expect(() => substitute('/api/v1/users/${userId}', {})).toThrow(MissingVariable)
    expect(() => substitute('/api/v1/users/${userId}', {})).toThrow('${userId} is not set')
  })

  it('lists the variables a flow uses', () => {
    expect(variablesIn(['/a/${x}', { b: '${y}', c: ['${x}'] }]).sort()).toEqual(['x', 'y'])
  })
})

describe('non-production mail guard', () => {
  it('allows only reserved test domains', () => {
    for (const a of ['smoke-test@example.test', 'a@example.com', 'b@mail.example.org', 'c@x.invalid', 'd@localhost'])
      expect(isNonProductionAddress(a)).toBe(true)
    for (const a of ['ops@autolytiq.com', 'someone@gmail.com', 'x@example.com.evil.io', 'nodomain']) expect(isNonProductionAddress(a)).toBe(false)
  })
})
