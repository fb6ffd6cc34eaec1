// Launches Debian's Chromium through playwright-core with the flags this
// machine needs (no sandbox as root, no background network).
const { chromium } = require('playwright-core')

exports.launch = function launch () {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  })
}
