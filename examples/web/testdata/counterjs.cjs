// Drives counter.js in Chromium for web_test.go. Arguments: the page site's
// origin (pages at /page?key=K&mode=M and /double?key=K) and the API's
// origin. Prints one JSON object: what each scenario's page showed, its
// console errors, uncaught errors, and every URL the browser requested.
const { launch } = require('../../../internal/testenv/browser.cjs')

const [site, api] = process.argv.slice(2)

async function main () {
  const browser = await launch()
  const out = { scenarios: {}, requests: [], pageErrors: [] }
  const contexts = []
  const t0 = Date.now()
  async function open (name) {
    console.error(name + ' at ' + (Date.now() - t0) + ' ms')
    const context = await browser.newContext({ locale: 'en-US' })
    contexts.push(context)
    context.on('request', r => out.requests.push(r.url()))
    const page = await context.newPage()
    const rec = { consoleErrors: [] }
    out.scenarios[name] = rec
    page.on('console', m => { if (m.type() === 'error') rec.consoleErrors.push(m.text()) })
    page.on('pageerror', e => out.pageErrors.push(name + ': ' + String(e)))
    return { page, rec, context }
  }
  async function settled (page) {
    await page.waitForSelector('[data-counter][data-counter-state]', { timeout: 15000 })
    return page.$$eval('[data-counter]', els => els.map(el => el.textContent + '/' + el.dataset.counterState).join(' '))
  }
  const apiRequest = (page, key) => page.waitForRequest(r => r.url().startsWith(api + '/api/' + key), { timeout: 15000 })

  try {
    { // One page view, then the same view back from the back/forward cache.
      const { page, rec } = await open('view')
      await page.goto(site + '/page?key=view&mode=view')
      rec.first = await settled(page)
      const again = page.waitForResponse(r => r.url().startsWith(api + '/api/view'), { timeout: 15000 })
      await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })))
      await again
      rec.restored = await settled(page)
    }
    { // Each number by name, from a store with visitors and one without.
      const { page, rec } = await open('fields')
      await page.goto(site + '/fields?key=fields&mode=view')
      rec.first = await settled(page)
      await page.goto(site + '/fields?key=plainfields&mode=view')
      rec.plainFields = await settled(page)
    }
    { // counter.js twice in one page.
      const { page, rec } = await open('double')
      await page.goto(site + '/double?key=double')
      await page.waitForFunction(() => document.querySelectorAll('[data-counter][data-counter-state]').length === 2, null, { timeout: 15000 })
      rec.first = await settled(page)
    }
    { // The first request is dropped after the server got it; the retry counts.
      const { page, rec } = await open('retry')
      await page.goto(site + '/page?key=flaky&mode=view')
      rec.first = await settled(page)
    }
    for (const [name, key, mode] of [['session-reload', 'slow', 'session'], ['view-reload', 'slowview', 'view']]) {
      // A reload while the counting request is in flight (the server holds it).
      const { page, rec } = await open(name)
      const sent = apiRequest(page, key)
      await page.goto(site + '/page?key=' + key + '&mode=' + mode, { waitUntil: 'domcontentloaded' })
      await sent
      await page.reload()
      rec.reload = await settled(page)
    }
    { // Every attempt fails on the network: the tab is not marked counted.
      const { page, rec } = await open('session-down')
      await page.goto(site + '/page?key=down&mode=session')
      rec.first = await settled(page)
      rec.flag = await page.evaluate(() => Object.keys(sessionStorage).join(','))
      await page.reload()
      rec.reload = await settled(page)
    }
    { // An HTTP error reached the server: the tab stays marked.
      const { page, rec } = await open('session-500')
      await page.goto(site + '/page?key=err500&mode=session')
      rec.first = await settled(page)
      rec.flag = await page.evaluate(() => Object.keys(sessionStorage).join(','))
      await page.reload()
      rec.reload = await settled(page)
    }
    { // The owner opts out, stays out across reloads, and opts back in.
      const { page, rec } = await open('optout')
      await page.goto(site + '/page?key=opt&mode=view#counter-optout')
      rec.first = await settled(page)
      rec.notice = await page.$eval('[data-counter-notice]', el => el.getAttribute('role') + ': ' + el.textContent)
      rec.hash = await page.evaluate(() => location.hash)
      await page.goto(site + '/page?key=opt&mode=view')
      rec.later = await settled(page)
      // The same address with another fragment: no new page load, the
      // script sees the hashchange.
      await page.goto(site + '/page?key=opt&mode=view#counter-optin')
      await page.waitForSelector('[data-counter-notice]', { timeout: 15000 })
      rec.optinNotice = await page.$eval('[data-counter-notice]', el => el.textContent)
      await page.reload()
      rec.optin = await settled(page)
      const { page: other, rec: rec2 } = await open('other-browser')
      await other.goto(site + '/page?key=opt&mode=view')
      rec2.first = await settled(other)
    }
  } finally {
    for (const c of contexts) await c.close().catch(() => {})
    await browser.close()
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => { console.error(e); process.exit(1) })
