// Prints Chromium's computed value of each CSS colour given as a JSON array
// as the first argument, for TestColorsMatchChromium: one "rgb(…)" or "rgba(…)" string
// each, in order, or "" where Chromium refuses the colour.
const { launch } = require('../internal/testenv/browser.cjs')

async function main () {
  const input = JSON.parse(process.argv[2])
  const browser = await launch()
  try {
    const page = await browser.newPage()
    await page.setContent('<p id="p">x</p>')
    const out = await page.evaluate(colors => colors.map(c => {
      const p = document.getElementById('p')
      p.style.color = ''
      p.style.color = c
      return p.style.color === '' ? '' : getComputedStyle(p).color
    }), input)
    process.stdout.write(JSON.stringify(out) + '\n')
  } finally {
    await browser.close()
  }
}

main().catch(e => { console.error(e); process.exit(1) })
