// Measures strings in Chromium's canvas at 2048 px (one pixel per font unit
// of DejaVu Sans), in regular and bold DejaVu Sans.
// Usage: node internal/fontmetrics/testdata/measure.cjs strings.json
// strings.json is ["A", "AV", ...]; prints {"regular": [...], "bold": [...]}.
const fs = require('fs')
const { launch } = require('../../testenv/browser.cjs')

async function main () {
  const strings = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
  const browser = await launch()
  try {
    const page = await browser.newPage()
    const widths = await page.evaluate(strings => {
      const ctx = document.createElement('canvas').getContext('2d')
      const out = {}
      for (const [name, weight] of [['regular', ''], ['bold', 'bold ']]) {
        ctx.font = `${weight}2048px "DejaVu Sans"`
        out[name] = strings.map(s => ctx.measureText(s).width)
      }
      return out
    }, strings)
    process.stdout.write(JSON.stringify(widths))
  } finally {
    await browser.close()
  }
}

main().catch(err => { console.error(err); process.exit(1) })
