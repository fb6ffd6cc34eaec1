// Loads pages that embed a counter badge and fetch the counter's JSON from
// another origin, in Chromium. Arguments: the page URLs to load. Prints one
// JSON line: for each page, the badge's naturalWidth and the outcome of each
// fetch (count, or the browser's error).
const { launch } = require('../internal/testenv/browser.cjs')

async function main () {
  const browser = await launch()
  try {
    const results = []
    for (const url of process.argv.slice(2)) {
      const page = await browser.newPage()
      const consoleErrors = []
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
      await page.goto(url, { waitUntil: 'load', timeout: 20000 })
      const r = await page.evaluate(async () => {
        const img = document.getElementById('badge')
        const out = { origin: location.origin, imgComplete: img.complete, imgWidth: img.naturalWidth, imgHeight: img.naturalHeight, fetches: [] }
        const api = document.body.dataset.api
        const tries = [
          ['get', api + '/api/visitors', {}],
          ['preflighted-post', api + '/api/visitors', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }],
          ['read', api + '/api/visitors?hit=false', {}],
        ]
        for (const [name, u, init] of tries) {
          try {
            const res = await fetch(u, init)
            const body = await res.json()
            out.fetches.push({ name, ok: true, status: res.status, count: body.count, type: typeof body.count })
          } catch (e) {
            out.fetches.push({ name, ok: false, error: String(e) })
          }
        }
        return out
      })
      r.consoleErrors = consoleErrors
      results.push(r)
      await page.close()
    }
    console.log(JSON.stringify(results))
  } finally {
    await browser.close()
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
