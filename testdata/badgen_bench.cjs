// Times badgen (the fastest npm badge library) drawing the counter badge
// "visitors | 12,345", as the baseline of BenchmarkBadge.
// Usage: node testdata/badgen_bench.cjs [iterations [rounds]]. Prints
// {"nsPerOp": N}: the best round, as other work on the machine only slows
// rounds down.
const { badgen } = require('badgen')

const n = Number(process.argv[2]) || 20000
const rounds = Number(process.argv[3]) || 20
let bytes = 0
for (let i = 0; i < 50000; i++) { // warm up the JIT
  bytes += badgen({ label: 'visitors', status: '12,345' }).length
}
let best = Infinity
for (let r = 0; r < rounds; r++) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    bytes += badgen({ label: 'visitors', status: '12,345' }).length
  }
  best = Math.min(best, Number(process.hrtime.bigint() - start) / n)
}
if (bytes === 0) throw new Error('badgen drew nothing')
process.stdout.write(JSON.stringify({ nsPerOp: best, iterations: n, rounds }))
