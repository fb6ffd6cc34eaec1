// Times badgen (the fastest npm badge library) drawing the counter badge
// "visitors | 12,345", as the baseline of BenchmarkBadge.
// Usage: node testdata/badgen_bench.cjs [iterations]. Prints {"nsPerOp": N}.
const { badgen } = require('badgen')

const n = Number(process.argv[2]) || 200000
let bytes = 0
for (let i = 0; i < Math.min(n, 50000); i++) { // warm up the JIT
  bytes += badgen({ label: 'visitors', status: '12,345' }).length
}
const start = process.hrtime.bigint()
for (let i = 0; i < n; i++) {
  bytes += badgen({ label: 'visitors', status: '12,345' }).length
}
const ns = Number(process.hrtime.bigint() - start)
if (bytes === 0) throw new Error('badgen drew nothing')
process.stdout.write(JSON.stringify({ nsPerOp: ns / n, iterations: n }))
