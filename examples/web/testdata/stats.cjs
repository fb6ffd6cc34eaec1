// Drives stats.html and the chart in Chromium for stats_test.go. Arguments:
// the server's origin, the screenshot folder, and chart paths separated by
// spaces. Prints one JSON object: what the stats page shows, each chart's
// size and text boxes (getBBox) in the light and dark schemes, every URL
// requested, console errors and uncaught errors.
const path = require('path')
const { launch } = require('../../../internal/testenv/browser.cjs')

const [origin, dir, chartList] = process.argv.slice(2)

async function main () {
  const browser = await launch()
  const out = { requests: [], console: [], pageErrors: [], charts: [], shots: [] }
  try {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 900, height: 700 } })
    context.on('request', r => out.requests.push(r.url()))
    const page = await context.newPage()
    page.on('console', m => { if (m.type() === 'error') out.console.push(m.text()) })
    page.on('pageerror', e => out.pageErrors.push(String(e)))

    await page.goto(origin + '/stats.html?key=home')
    await page.waitForSelector('[data-stats][data-stats-state]', { timeout: 15000 })
    await page.waitForFunction(() => { const i = document.querySelector('[data-stats-chart]'); return i.complete && i.naturalWidth > 0 }, null, { timeout: 15000 })
    out.page = await page.evaluate(() => {
      const t = s => document.querySelector(s).textContent
      const img = document.querySelector('[data-stats-chart]')
      const snippets = {}
      document.querySelectorAll('[data-stats-snippet]').forEach(el => { snippets[el.dataset.statsSnippet] = el.textContent })
      return {
        state: document.querySelector('[data-stats]').dataset.statsState,
        key: t('[data-stats-key]'),
        title: document.title,
        count: t('[data-stats-count]'),
        visitors: t('[data-stats-visitors]'),
        todayCount: t('[data-stats-today-count]'),
        todayVisitors: t('[data-stats-today-visitors]'),
        todayDate: t('[data-stats-today-date]'),
        rows: [...document.querySelectorAll('[data-stats-days] tr')].map(tr => [...tr.children].map(c => c.textContent)),
        chartSrc: img.src,
        chartAlt: img.alt,
        chartComplete: img.complete,
        chartWidth: img.naturalWidth,
        chartHeight: img.naturalHeight,
        snippets,
      }
    })
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme })
      const shot = 'stats-' + scheme + '.png'
      await page.screenshot({ path: path.join(dir, shot), fullPage: true })
      out.shots.push(shot)
    }
    await page.emulateMedia({ colorScheme: 'light' })

    await page.goto(origin + '/stats.html?key=-bad')
    await page.waitForSelector('[data-stats][data-stats-state]', { timeout: 15000 })
    out.invalid = { state: await page.$eval('[data-stats]', el => el.dataset.statsState) }

    let i = 0
    for (const u of chartList.split(' ')) {
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme })
        await page.goto(origin + u)
        const m = await page.evaluate(() => {
          const svg = document.documentElement
          const text = svg.querySelector('text')
          const bg = svg.querySelector('rect')
          return {
            width: svg.width.baseVal.value,
            height: svg.height.baseVal.value,
            texts: [...svg.querySelectorAll('text')].map(t => { const b = t.getBBox(); return { text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height } }),
            textFill: getComputedStyle(text).fill,
            background: getComputedStyle(bg).fill,
          }
        })
        m.url = u
        m.scheme = scheme
        out.charts.push(m)
        const shot = 'chart-' + (i++) + '-' + scheme + '.png'
        await page.screenshot({ path: path.join(dir, shot) })
        out.shots.push(shot)
      }
    }
  } finally {
    await browser.close()
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => { console.error(e); process.exit(1) })
