// Drives examples/web in Chromium for browser_test.go and prints what the
// pages showed as JSON. Arguments: the page URL (its counter.js points at the
// running server), a page whose API is down, a page whose API answers
// nonsense, and the screenshot path.
const { launch } = require('../../../internal/testenv/browser.cjs')

const [pageURL, downURL, brokenURL, shot] = process.argv.slice(2)
const placeholder = '\u2013'

// settled waits for counter.js's answer and returns what each number on the
// page shows, by its data-counter value.
async function settled (page) {
  await page.waitForSelector('[data-counter][data-counter-state]', { timeout: 10000 })
  return page.$$eval('[data-counter]', els => Object.fromEntries(els.map(el =>
    [el.dataset.counter, { text: el.textContent, state: el.dataset.counterState, label: el.nextElementSibling.textContent }])))
}

async function main () {
  const browser = await launch()
  const errors = [] // uncaught exceptions and unhandled rejections
  const warnings = []
  const open = async (context) => {
    const page = await context.newPage()
    page.on('pageerror', e => errors.push(String(e)))
    page.on('console', m => { if (m.type() === 'warning') warnings.push(m.text()) })
    return page
  }
  const out = {}
  try {
    const first = await browser.newContext({ locale: 'en-US', viewport: { width: 900, height: 640 } })
    const page = await open(first)
    // The badge the page itself loaded, not a later copy.
    const badge = page.waitForResponse(r => r.url().includes('/badge/'), { timeout: 10000 })
    await page.goto(pageURL)
    out.first = await settled(page)
    const svg = await (await badge).text()
    out.badgeLabel = (svg.match(/aria-label="([^"]*)"/) || [])[1]
    out.img = await page.$eval('[data-counter-img]', el => el.textContent)
    out.md = await page.$eval('[data-counter-md]', el => el.textContent)
    await page.waitForFunction(() => { const i = document.querySelector('img[data-counter-badge]'); return i.complete && i.naturalWidth > 0 }, null, { timeout: 10000 })
    out.badgeSrc = await page.$eval('img[data-counter-badge]', el => el.src)
    await page.screenshot({ path: shot, fullPage: true })

    await page.reload()
    out.reload = await settled(page)

    const second = await browser.newContext({ locale: 'en-US' })
    out.newContext = await settled(await (async () => { const p = await open(second); await p.goto(pageURL); return p })())

    const down = await open(await browser.newContext({ locale: 'en-US' }))
    await down.goto(downURL)
    out.down = await settled(down)

    const broken = await open(await browser.newContext({ locale: 'en-US' }))
    await broken.goto(brokenURL)
    out.broken = await settled(broken)
  } finally {
    await browser.close()
  }
  out.errors = errors
  out.warnings = warnings
  out.placeholder = placeholder
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => { console.error(e); process.exit(1) })
