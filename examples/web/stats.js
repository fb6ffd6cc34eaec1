// stats.js: fills stats.html with a key's numbers from a counter server:
// totals, today, the chart, the last 30 days and the embed snippets. No
// dependencies; it only reads (?hit=false) and asks nothing of other sites.
//
//   stats.html?key=home
//   <script src="stats.js" data-api="https://counter.example.com" defer></script>
//
// data-api is the counter server; default: this page's origin.
(function () {
  'use strict'
  var script = document.currentScript
  var cfg = (script && script.dataset) || {}
  var base = (cfg.api || location.origin).replace(/\/+$/, '')
  var days = 30
  var validKey = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

  function $ (sel) { return document.querySelector(sel) }
  function text (sel, s) { var el = $(sel); if (el) el.textContent = s }
  var fmt = new Intl.NumberFormat()
  function num (n) { return typeof n === 'number' ? fmt.format(n) : '\u2013' }

  function fail (why) {
    $('[data-stats]').setAttribute('data-stats-state', 'error')
    if (window.console) console.warn('stats: ' + why)
  }

  function run () {
    var key = new URLSearchParams(location.search).get('key') || 'visitors'
    $('[data-stats-input]').value = key
    text('[data-stats-key]', key)
    document.title = 'counter: stats for ' + key
    if (!validKey.test(key)) { fail('invalid key'); return }
    var path = encodeURIComponent(key)
    var badge = base + '/badge/' + path
    var chart = base + '/chart/' + path + '?days=' + days
    var page = new URL(script && script.src ? script.src : 'stats.js', location.href).href.replace(/stats\.js(\?.*)?$/, 'counter.js')
    text('[data-stats-snippet="img"]', '<img src="' + badge + '" alt="hits of ' + key + '">')
    text('[data-stats-snippet="md"]', '![hits of ' + key + '](' + badge + ')')
    text('[data-stats-snippet="chart"]', '<img src="' + chart + '" alt="' + key + ', last ' + days + ' days" width="640" height="220">')
    text('[data-stats-snippet="script"]', '<span data-counter>\u2013</span>\n<script src="' + page + '" data-api="' + base + '" data-key="' + key + '" defer></script>')

    var img = $('[data-stats-chart]')
    img.alt = 'Hits and visitors of ' + key + ', last ' + days + ' days'
    img.src = chart

    fetch(base + '/api/' + path + '?hit=false&days=' + days, { mode: 'cors', credentials: 'omit', cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status)
        return res.json()
      })
      .then(function (s) {
        if (!s || typeof s.count !== 'number') throw new Error('no count in the answer')
        text('[data-stats-count]', num(s.count))
        text('[data-stats-visitors]', num(s.visitors))
        var today = s.today || {}
        text('[data-stats-today-count]', num(today.count))
        text('[data-stats-today-visitors]', num(today.visitors))
        text('[data-stats-today-date]', today.date || 'the last row')
        var body = $('[data-stats-days]')
        var list = Array.isArray(s.days) ? s.days.slice().reverse() : []
        body.textContent = ''
        list.forEach(function (d) {
          var tr = document.createElement('tr')
          ;[d.date, num(d.count), num(d.visitors)].forEach(function (v, i) {
            var cell = document.createElement(i === 0 ? 'th' : 'td')
            if (i === 0) cell.scope = 'row'
            cell.textContent = v
            tr.appendChild(cell)
          })
          body.appendChild(tr)
        })
        $('[data-stats]').setAttribute('data-stats-state', 'ok')
      })
      .catch(function (err) { fail(err && err.message ? err.message : String(err)) })
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run)
  else run()
})()
