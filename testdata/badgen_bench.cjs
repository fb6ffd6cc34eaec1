// Times badgen (the fastest npm badge library) drawing the counter badge
// "visitors | 12,345", as the baseline of BenchmarkBadge, in rounds that
// alternate with the Go rounds: after warming up the JIT it prints "ready",
// then for each line N read from stdin draws the badge N times and prints
// the nanoseconds per badge of that round. It exits when stdin closes.
// Usage: node testdata/badgen_bench.cjs
const { badgen } = require('badgen')
const readline = require('node:readline')

let bytes = 0
for (let i = 0; i < 50000; i++) { // warm up the JIT
  bytes += badgen({ label: 'visitors', status: '12,345' }).length
}
process.stdout.write('ready\n')
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  const n = Number(line)
  if (!(n > 0)) throw new Error(`badgen_bench: bad round size ${JSON.stringify(line)}`)
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    bytes += badgen({ label: 'visitors', status: '12,345' }).length
  }
  process.stdout.write(`${Number(process.hrtime.bigint() - start) / n}\n`)
})
lines.on('close', () => {
  if (bytes === 0) throw new Error('badgen drew nothing')
})
