// Loads badges in Chromium and measures each text's natural width.
// Usage: node testdata/badge_widths.cjs corpus.json [screenshot.png]
// corpus.json is [{"id": "...", "svg": "<svg ...>"}, ...]; the badges are
// inlined in one page (their ids must differ). Prints JSON: the fonts
// Chromium drew the first text with, and for every drawn (not aria-hidden)
// text its natural width (getComputedTextLength: getBBox would give the
// textLength) and the space between it and its background's edges.
const fs = require('fs')
const { launch } = require('../internal/testenv/browser.cjs')

async function main () {
  const [corpusPath, screenshot] = process.argv.slice(2)
  const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf8'))
  const browser = await launch()
  try {
    const page = await browser.newPage({ deviceScaleFactor: 2 })
    const rows = corpus.map(b =>
      `<div class="badge" id="${b.id}">${b.svg} <img alt="" src="data:image/svg+xml;base64,${Buffer.from(b.svg).toString('base64')}"></div>`)
    await page.setContent(`<!doctype html><html><head><meta charset="utf-8"><style>
      body { margin: 12px; background: #fff; font: 12px sans-serif }
      .badge { margin: 4px 0; display: flex; gap: 12px; align-items: center }
      </style></head><body>${rows.join('\n')}</body></html>`)
    await page.evaluate(() => document.fonts.ready)
    await page.waitForFunction(() => [...document.images].every(i => i.complete))

    const cdp = await page.context().newCDPSession(page)
    await cdp.send('DOM.enable')
    await cdp.send('CSS.enable')
    const { root } = await cdp.send('DOM.getDocument')
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: 'text:not([aria-hidden])' })
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId })

    const badges = await page.evaluate(() => [...document.querySelectorAll('div.badge')].map(div => {
      const svg = div.querySelector('svg')
      const rects = [...svg.querySelectorAll('g > rect')]
        .filter(r => !(r.getAttribute('fill') || '').startsWith('url('))
        .map(r => ({ x: +(r.getAttribute('x') || 0), w: +r.getAttribute('width') }))
      // A logo (a nested svg) bounds the label on the left.
      const logo = svg.querySelector('svg')
      const logoRight = logo ? +logo.getAttribute('x') + +logo.getAttribute('width') : -Infinity
      const texts = [...svg.querySelectorAll('text:not([aria-hidden])')].map(t => {
        // The text is drawn at ten times the size inside scale(.1).
        const natural = t.getComputedTextLength() / 10
        const cx = +t.getAttribute('x') / 10
        const r = rects.find(r => r.x <= cx && cx < r.x + r.w)
        const start = logoRight > r.x && logoRight < cx ? logoRight : r.x
        return {
          text: t.textContent,
          natural,
          textLength: +t.getAttribute('textLength') / 10,
          left: cx - natural / 2 - start,
          right: r.x + r.w - (cx + natural / 2),
        }
      })
      return { id: div.id, texts }
    }))
    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true })
    }
    process.stdout.write(JSON.stringify({ fonts, badges }))
  } finally {
    await browser.close()
  }
}

main().catch(err => { console.error(err); process.exit(1) })
