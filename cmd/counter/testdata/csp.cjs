// Loads the pages counter serve serves itself (/ and /stats.html) in
// Chromium for browser_test.go and prints as JSON what they showed, the
// Content-Security-Policy they came with, and every policy violation.
// Argument: the server's URL.
const { launch } = require('../../../internal/testenv/browser.cjs')

const [base] = process.argv.slice(2)

async function main () {
  const browser = await launch()
  const out = { violations: [], errors: [] }
  try {
    const context = await browser.newContext({ locale: 'en-US' })
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', e => {
        console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI)
      })
    })
    const open = async (url) => {
      const page = await context.newPage()
      page.on('console', m => {
        if (m.type() !== 'error') return
        if ((m.location().url || '').endsWith('/favicon.ico')) return // index.html names no icon
        if (m.text().startsWith('CSP violation')) out.violations.push(m.text())
        else out.errors.push(m.text())
      })
      page.on('pageerror', e => out.errors.push(String(e)))
      const res = await page.goto(url)
      return { page, policy: res.headers()['content-security-policy'] || '', nosniff: res.headers()['x-content-type-options'] || '' }
    }
    const loaded = (page, sel) => page.waitForFunction(s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0 }, sel, { timeout: 10000 })

    const index = await open(base + '/')
    await index.page.waitForSelector('[data-counter="count"][data-counter-state]', { timeout: 10000 })
    await loaded(index.page, 'img[data-counter-badge]')
    out.index = {
      policy: index.policy,
      nosniff: index.nosniff,
      text: await index.page.$eval('[data-counter="count"]', el => el.textContent),
      state: await index.page.$eval('[data-counter="count"]', el => el.dataset.counterState),
      // The inline <style> applied: the big number is 2.5rem, not the default.
      fontSize: await index.page.$eval('.count strong', el => getComputedStyle(el).fontSize),
    }

    const stats = await open(base + '/stats.html?key=visitors')
    await stats.page.waitForSelector('[data-stats][data-stats-state]', { timeout: 10000 })
    await loaded(stats.page, 'img[data-stats-chart]')
    out.stats = {
      policy: stats.policy,
      nosniff: stats.nosniff,
      state: await stats.page.$eval('[data-stats]', el => el.dataset.statsState),
      count: await stats.page.$eval('[data-stats-count]', el => el.textContent),
      rows: await stats.page.$$eval('[data-stats-days] tr', rows => rows.length),
      errorHidden: await stats.page.$eval('[data-stats-error]', el => getComputedStyle(el).display === 'none'),
    }
  } finally {
    await browser.close()
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => { console.error(e); process.exit(1) })
