// Moved to src/sandbox/components (the sandbox runs the same real components); kept so test imports stay stable.
export * from '../../src/sandbox/components/dns.js'
