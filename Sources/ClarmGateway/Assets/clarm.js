/* Clarm loader: page, widget and commerce tracking; served by the Clarm gateway at /clarm.js. */
(function (w, d) {
  'use strict';
  if (w.ClarmTrack && w.ClarmTrack.loaded) return;
  var script = d.currentScript || d.querySelector('script[src*="clarm.js"]');
  var attr = function (name) { return script && script.getAttribute('data-' + name); };
  var site = attr('site') || location.hostname;
  var endpoint = (attr('api') || (script && script.src ? new URL(script.src).origin : '')).replace(/\/$/, '') + '/api/track';
  var trackHash = !!(script && script.hasAttribute('data-hash'));
  var store = null;
  try { store = w.localStorage; store.setItem('clarm_t', '1'); store.removeItem('clarm_t'); } catch (e) { store = null; }
  var memory = {};
  var get = function (k) { try { return store ? store.getItem('clarm_' + k) : memory[k] || null; } catch (e) { return null; } };
  var set = function (k, v) { try { if (store) store.setItem('clarm_' + k, v); else memory[k] = v; } catch (e) {} };
  var uuid = function () {
    if (w.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    return Array.prototype.map.call(b, function (x, i) { return ([4, 6, 8, 10].indexOf(i) >= 0 ? '-' : '') + (x + 256).toString(16).slice(1); }).join('');
  };
  var visitor = function () { var v = get('vid'); if (!v) { v = uuid(); set('vid', v); } return v; };
  var session = function () {
    var now = Date.now(), s = get('sid');
    if (!s || now - (+get('seen') || 0) > 18e5) { s = uuid(); set('sid', s); }
    set('seen', String(now));
    return s;
  };
  var queue = [], timer = 0, retryTimer = 0;
  var MAX_OUTBOX = 500;

  function track(name, props) {
    if (!name || get('optout') === '1') return;
    var e = {
      event: String(name), visitor_id: visitor(), session_id: session(), timestamp: new Date().toISOString(),
      url: location.href, referrer: d.referrer, user_agent: navigator.userAgent, site: site, event_id: uuid()
    };
    // A copy taken now: a throwing getter or a cycle fails this call alone, not the batch it would join.
    if (props && typeof props === 'object') e.properties = JSON.parse(JSON.stringify(props));
    queue.push(e);
    if (queue.length >= 20) flush(); else if (!timer) timer = setTimeout(flush, 1000);
  }

  function outbox() { try { return JSON.parse(get('outbox') || '[]'); } catch (e) { return []; } }
  function keep(batches) {
    var total = 0, kept = [];
    for (var i = batches.length - 1; i >= 0 && total < MAX_OUTBOX; i--) { kept.unshift(batches[i]); total += batches[i].events.length; }
    set('outbox', JSON.stringify(kept));
  }

  function flush(leaving) {
    clearTimeout(timer); timer = 0;
    var events = queue.splice(0, queue.length);
    if (!events.length) return;
    var pending = outbox();
    // Leaving the page: a beacon survives the unload, but says nothing back; while sends are failing, keep the events instead.
    if (leaving && navigator.sendBeacon && !pending.length) {
      var body = JSON.stringify(stamp(events));
      if (navigator.sendBeacon(endpoint, new Blob([body], { type: 'text/plain' }))) return;
    }
    if (pending.length) { pending.push({ events: events, attempt: 0, at: 0 }); keep(pending); retry(); return; }
    send(events, 0);
  }

  function stamp(events) { var now = new Date().toISOString(); events.forEach(function (e) { e.sent_at = now; }); return events; }

  function send(events, attempt) {
    var failed = function (retryAfter) {
      var pending = outbox(), delay = Math.min(3e5, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random());
      if (retryAfter) delay = Math.max(delay, retryAfter * 1000);
      pending.push({ events: events, attempt: attempt + 1, at: Date.now() + delay });
      keep(pending); retry();
    };
    try {
      fetch(endpoint, { method: 'POST', body: JSON.stringify(stamp(events)), headers: { 'Content-Type': 'text/plain' }, keepalive: true, credentials: 'omit' })
        .then(function (r) {
          if (r.status === 429 || r.status >= 500) failed(+r.headers.get('Retry-After') || 0);
          else if (outbox().length) retry();
        }, function () { failed(0); });
    } catch (e) { failed(0); }
  }

  // Sends the first batch of the outbox once it is due; the rest follow as each answer arrives.
  function retry() {
    clearTimeout(retryTimer);
    var pending = outbox();
    if (!pending.length) return;
    var wait = Math.max(0, pending[0].at - Date.now());
    retryTimer = setTimeout(function () {
      var now = outbox();
      if (!now.length) return;
      var batch = now.shift(); keep(now);
      send(batch.events, batch.attempt);
    }, wait);
  }

  // Page activity.
  var last = null;
  function page() {
    var url = trackHash ? location.href : location.href.split('#')[0];
    if (url === last) return;
    last = url;
    track('page_view');
    commerce();
  }
  function commerce() {
    var sid = session(), seen;
    try { seen = JSON.parse(get('commerce') || '{}'); } catch (e) { seen = {}; }
    if (seen.sid !== sid) seen = { sid: sid, urls: [] };
    var path = location.pathname.toLowerCase(), title = d.title.toLowerCase(), q = new URLSearchParams(location.search), rule = null;
    ['success', 'thank-you', 'thankyou', 'order-confirmation', 'receipt'].forEach(function (w) { if (!rule && path.indexOf(w) >= 0) rule = 'path:' + w; });
    [['payment', 'success'], ['status', 'paid'], ['payment_status', 'paid'], ['checkout', 'success'], ['paid', 'true']].forEach(function (p) {
      if (!rule && (q.get(p[0]) || '').toLowerCase() === p[1]) rule = 'query:' + p[0] + '=' + p[1];
    });
    var kind = rule ? 'payment_success' : null;
    if (!kind) {
      var m = /(checkout|payment|billing|\bpay\b)/.exec(path) || /(checkout|payment|billing|\bpay\b)/.exec(title);
      if (m) { kind = 'payment_page'; rule = (m.input === path ? 'path:' : 'title:') + m[1]; }
    }
    var key = kind + ' ' + location.href.split('#')[0];
    if (!kind || seen.urls.indexOf(key) >= 0) return;
    seen.urls.push(key); seen.urls = seen.urls.slice(-50);
    set('commerce', JSON.stringify(seen));
    track(kind, { rule: rule });
  }
  ['pushState', 'replaceState'].forEach(function (method) {
    var original = history[method];
    history[method] = function () {
      var before = location.pathname, result = original.apply(this, arguments);
      if (method === 'pushState' || location.pathname !== before) page();
      return result;
    };
  });
  w.addEventListener('popstate', page);
  if (trackHash) w.addEventListener('hashchange', page);
  w.addEventListener('pageshow', function (e) { if (e.persisted) { last = null; page(); } });

  // Widget and calls to action.
  function widget(kind, props) {
    if (['open', 'close', 'message', 'cta'].indexOf(kind) >= 0) track('widget_' + kind, props);
  }
  d.addEventListener('clarm:widget', function (e) {
    var detail = e.detail || {}, props = {};
    for (var k in detail) if (k !== 'kind') props[k] = detail[k];
    widget(detail.kind, props);
  });
  d.addEventListener('click', function (e) {
    var t = e.target && e.target.closest ? e.target : null;
    var cta = t && t.closest('[data-clarm-cta]');
    if (cta) track('click', { element: cta.getAttribute('data-clarm-cta'), page: location.pathname });
    var a = t && t.closest('a[href]');
    if (a && a.hostname && a.hostname !== location.hostname) track('outbound_click', { url: a.href });
  }, true);

  // Leaving or hiding the page sends what is queued.
  w.addEventListener('pagehide', function () { flush(true); });
  d.addEventListener('visibilitychange', function () { if (d.visibilityState === 'hidden') flush(true); });

  var api = {
    track: track,
    widget: widget,
    flush: function () { flush(false); },
    optOut: function () { set('optout', '1'); queue.length = 0; },
    optIn: function () { set('optout', '0'); },
    reset: function () { set('vid', uuid()); set('sid', ''); }
  };
  // A queued call, in any of the stubs' shapes: ['track', [name, props]] (the README's stub), ['track', name, props]
  // (a function stub called as ClarmTrack('track', …)), or [name, props] (a stub whose track() does q.push(arguments)).
  // Each runs alone: one that throws is reported and the others, and tracking, go on.
  function call(args) {
    try {
      var list = Array.prototype.slice.call(args), method = list[0];
      if (typeof method === 'string' && api.hasOwnProperty(method)) {
        list = list.length === 2 && Array.isArray(list[1]) ? list[1] : list.slice(1);
      } else if (list.length === 2 && Array.isArray(list[1])) {
        throw new Error('no method ' + method);
      } else method = 'track';
      api[method].apply(null, list);
    } catch (e) { if (w.console) console.warn('clarm: call failed', args, e); }
  }
  var stub = w.ClarmTrack;
  // Callable too, and with a q whose push runs at once, so stubs that keep calling ClarmTrack(…) or q.push(…) work.
  w.ClarmTrack = function () { call(arguments); };
  for (var name in api) w.ClarmTrack[name] = api[name];
  w.ClarmTrack.loaded = true;
  w.ClarmTrack.q = { push: function () { for (var i = 0; i < arguments.length; i++) call(arguments[i]); } };
  var queued = stub && stub.q;
  if (queued && queued.length) for (var i = 0; i < queued.length; i++) call(queued[i]);
  if (d.prerendering) d.addEventListener('prerenderingchange', page, { once: true }); else page();
  retry();
})(window, document);
