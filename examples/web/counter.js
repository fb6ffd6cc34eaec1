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
// Elements it fills: [data-counter] gets a number from the answer, named by
// its value as the badge's ?show= names it: "" or "count" (every counted
// hit), "visitors", "today" (hits today) or "today-visitors"; it shows "–"
// if the server cannot be reached, and gets data-counter-state="ok" or
// "error", or "none" when the server does not keep that number (visitors
// off). [data-counter-img] and [data-counter-md] get the HTML and Markdown
// that embed the badge (its label "hits" names the count it draws);
// <img data-counter-badge> shows it without counting, loaded once the
// count has answered, so that it draws the number the page shows.
//
// Each page view counts once: the request carries a random visit id (the
// server's Idempotency-Key, sent as ?visit= so that no CORS preflight is
// needed), reused by a second run of this script in the same page, by the
// one retry after a failed request, and when the page comes back from the
// back/forward cache, so the server counts it once.
//
// Owner opt-out: open any page of the site with #counter-optout and this
// browser only reads from then on (localStorage); #counter-optin undoes it.
// The page shows a one-line confirmation ([data-counter-notice] if the page
// has one, else a line at the top).
(function () {
  'use strict'
  var script = document.currentScript
  var cfg = (script && script.dataset) || {}
  var base = (cfg.api || location.origin).replace(/\/+$/, '')
  var key = cfg.key || 'visitors'
  var mode = cfg.count || 'view'
  var path = encodeURIComponent(key)
  var flag = 'counter:counted:' + base + '/' + key
  var optoutFlag = 'counter:optout'
  var placeholder = '\u2013'
  var retryDelay = 1000 // ms before the one retry

  function store (name) {
    try { return window[name] } catch (e) { return null } // blocked storage throws
  }
  function get (name, k) {
    try { var s = store(name); return !!s && s.getItem(k) === '1' } catch (e) { return false }
  }
  function set (name, k, on) {
    try {
      var s = store(name)
      if (!s) return false
      if (on) s.setItem(k, '1')
      else s.removeItem(k)
      return true
    } catch (e) { return false }
  }
  function each (selector, fn) {
    var els = document.querySelectorAll(selector)
    for (var i = 0; i < els.length; i++) fn(els[i])
  }
  // number returns the number of body that el names, or undefined.
  function number (el, body) {
    var today = body.today || {}
    switch (el.getAttribute('data-counter')) {
      case '': case 'count': return body.count
      case 'visitors': return body.visitors
      case 'today': return today.count
      case 'today-visitors': return today.visitors
    }
  }
  function show (body) {
    var fmt = new Intl.NumberFormat()
    each('[data-counter]', function (el) {
      var n = body && number(el, body)
      var ok = typeof n === 'number'
      el.textContent = ok ? fmt.format(n) : placeholder
      el.setAttribute('data-counter-state', !body ? 'error' : ok ? 'ok' : 'none')
    })
  }
  function notice (text) {
    var el = document.querySelector('[data-counter-notice]')
    if (!el) {
      el = document.createElement('p')
      el.setAttribute('data-counter-notice', '')
      el.style.cssText = 'margin:0;padding:.5em 1em;font:14px/1.4 system-ui,sans-serif;background:#fff8c5;color:#1f2328;border-bottom:1px solid #d4a72c'
      document.body.insertBefore(el, document.body.firstChild)
    }
    el.setAttribute('role', 'status')
    el.textContent = text
  }

  // The owner's opt-out, set or cleared by the address's fragment.
  function optOutFromHash () {
    var h = location.hash
    if (h !== '#counter-optout' && h !== '#counter-optin') return
    var out = h === '#counter-optout'
    if (!set('localStorage', optoutFlag, out)) {
      notice('Counter: this browser blocks local storage, so the opt-out cannot be kept.')
      return
    }
    notice(out
      ? 'Counter: visits from this browser are no longer counted on this site (open the page with #counter-optin to undo).'
      : 'Counter: visits from this browser are counted again on this site.')
    try { history.replaceState(history.state, '', location.pathname + location.search) } catch (e) {}
  }

  // A random visit id of 22 characters of [A-Za-z0-9_-] (128 bits), one
  // per page view: kept on window, so that a second run of this script in
  // the same page reuses it.
  function visitID () {
    var ids = window.__counterVisits || (window.__counterVisits = {})
    var k = base + '/' + key
    if (!ids[k]) {
      var b = new Uint8Array(16)
      crypto.getRandomValues(b)
      var s = ''
      for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i])
      ids[k] = btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    }
    return ids[k]
  }

  // request fetches url once, and once more after a network error or a
  // 502, 503 or 504, with the same url (and so the same visit id). It
  // resolves to the answer's JSON; it rejects with err.unsent set when
  // every attempt failed before any answer came (a network error).
  function request (url) {
    function attempt () {
      return fetch(url, { method: 'GET', mode: 'cors', credentials: 'omit', cache: 'no-store' })
    }
    function retryable (res) { return res.status === 502 || res.status === 503 || res.status === 504 }
    function later () { return new Promise(function (resolve) { setTimeout(resolve, retryDelay) }) }
    return attempt()
      .then(function (res) {
        if (!retryable(res)) return res
        return later().then(attempt).catch(function () { return res }) // the retry's network error: keep the first answer
      }, function (err) {
        if (!(err instanceof TypeError)) throw err
        return later().then(attempt).catch(function (err2) {
          if (err2 instanceof TypeError) err2.unsent = true
          throw err2
        })
      })
      .then(function (res) {
        if (!res.ok) throw new Error('counter: HTTP ' + res.status)
        return res.json()
      })
  }

  function update (counting) {
    var optedOut = get('localStorage', optoutFlag)
    var hit = counting && !optedOut && (mode === 'view' || (mode === 'session' && !get('sessionStorage', flag)))
    var url = base + '/api/' + path
    if (hit) url += '?visit=' + visitID()
    else url += '?hit=false' + (optedOut ? '&optout=1' : '')
    // In session mode the tab counts as counted before the request leaves,
    // so a reload while it is in flight only reads.
    if (hit && mode === 'session') set('sessionStorage', flag, true)
    return request(url)
      .then(function (body) {
        if (!body || typeof body.count !== 'number') throw new Error('counter: no count in the answer')
        show(body)
      })
      .catch(function (err) {
        // Unmark only when no request reached the server.
        if (hit && mode === 'session' && err && err.unsent) set('sessionStorage', flag, false)
        show(null)
        if (window.console) console.warn(err && err.message ? err.message : err)
      })
  }

  function run () {
    optOutFromHash()
    var badge = base + '/badge/' + path
    each('[data-counter-img]', function (el) { el.textContent = '<img src="' + badge + '" alt="hits of ' + key + '">' })
    each('[data-counter-md]', function (el) { el.textContent = '![hits of ' + key + '](' + badge + ')' })
    // The badge preview loads once the count has answered, so that it
    // includes this view, as the number on the page does.
    update(true).then(function () {
      each('img[data-counter-badge]', function (el) {
        el.addEventListener('error', function () { el.style.display = 'none' }) // server unreachable
        el.alt = 'hits of ' + key
        el.src = badge + '?hit=false'
      })
    })
  }

  // Back from the back/forward cache: the same page view. Ask again with the
  // same visit id, which the server does not count twice.
  window.addEventListener('pageshow', function (e) { if (e.persisted) update(true) })
  window.addEventListener('hashchange', optOutFromHash)

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run)
  else run()
})()
