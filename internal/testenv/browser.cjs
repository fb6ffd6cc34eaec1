// Launches Debian's Chromium through playwright-core with the flags this
// machine needs (no sandbox as root, no background network).
const { chromium } = require('playwright-core')

exports.launch = function launch () {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
      // Headless Chromium says HeadlessChrome, which counters leave out
      // as a bot: speak as the desktop browser it is.
      '--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36'],
  })
}
