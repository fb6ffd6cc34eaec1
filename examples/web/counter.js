// counter.js: shows a visit count from a counter server (counter serve, the
// Lambda example or any handler of github.com/resumecounter/counter).
// No dependencies. Load it once per page:
//
//   <p>Visitors: <span data-counter>–</span></p>
//   <script src="counter.js" data-api="https://counter.example.com" defer></script>
//
// Script attributes, all optional:
//   data-api    base URL of the counter server; default: this page's origin
//   data-key    counter key; default "visitors"
//   data-count  "view" (count every page view, the default), "session" (count
//               the first view in a browser tab session, then only read) or
//               "none" (only read)
//
// Elements it fills: [data-counter] gets the count, or "–" if the server
// cannot be reached, and data-counter-state="ok" or "error";
// [data-counter-img] and [data-counter-md] get the HTML and Markdown that
// embed the badge; <img data-counter-badge> shows it without counting.
(function () {
  'use strict'
  var script = document.currentScript
  var cfg = (script && script.dataset) || {}
  var base = (cfg.api || location.origin).replace(/\/+$/, '')
  var key = cfg.key || 'visitors'
  var mode = cfg.count || 'view'
  var path = encodeURIComponent(key)
  var flag = 'counter:counted:' + base + '/' + key
  var placeholder = '\u2013'

  function storage () {
    try { return window.sessionStorage } catch (e) { return null } // blocked storage throws
  }
  function counted () {
    try { var s = storage(); return !!s && s.getItem(flag) === '1' } catch (e) { return false }
  }
  function remember () {
    try { var s = storage(); if (s) s.setItem(flag, '1') } catch (e) {}
  }
  function each (selector, fn) {
    var els = document.querySelectorAll(selector)
    for (var i = 0; i < els.length; i++) fn(els[i])
  }
  function show (text, state) {
    each('[data-counter]', function (el) { el.textContent = text; el.setAttribute('data-counter-state', state) })
  }

  function run () {
    var badge = base + '/badge/' + path
    each('[data-counter-img]', function (el) { el.textContent = '<img src="' + badge + '" alt="' + key + '">' })
    each('[data-counter-md]', function (el) { el.textContent = '![' + key + '](' + badge + ')' })
    each('img[data-counter-badge]', function (el) {
      el.addEventListener('error', function () { el.style.display = 'none' }) // server unreachable
      el.alt = key
      el.src = badge + '?hit=false'
    })

    var hit = mode === 'view' || (mode === 'session' && !counted())
    var url = base + '/api/' + path + (hit ? '' : '?hit=false')
    fetch(url, { method: 'GET', mode: 'cors', credentials: 'omit', cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('counter: HTTP ' + res.status)
        return res.json()
      })
      .then(function (body) {
        if (!body || typeof body.count !== 'number') throw new Error('counter: no count in the answer')
        if (hit && mode === 'session') remember()
        show(new Intl.NumberFormat().format(body.count), 'ok')
      })
      .catch(function (err) {
        show(placeholder, 'error')
        if (window.console) console.warn(err && err.message ? err.message : err)
      })
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run)
  else run()
})()
