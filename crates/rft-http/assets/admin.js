// The owner's console (/admin): one page, five views chosen by the URL's hash (#/overview,
// #/referrals, #/referrals/<id>, #/referrers, #/referrers/<customer>, #/queue). Everything comes
// from /admin/api/*, called with the session cookie; every change carries the session's CSRF
// token in x-csrf-token. Live updates arrive as server-sent events from /admin/api/events: each
// carries the overview, and any other view on screen reloads. Plain JavaScript, no build step;
// all text goes in with textContent, never as HTML.
(function () {
  'use strict';

  var $ = RftDom.$;
  var el = RftDom.el;
  var session = null;
  var overview = null;
  var period = 'daily';
  var referrerStatus = 'active';
  var current = { view: null, arg: null };

  // --- helpers -----------------------------------------------------------------------------------

  function setText(id, text) { var n = $(id); if (n && n.textContent !== text) n.textContent = text; }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }
  function amounts(list) {
    if (!list || !list.length) return '£0';
    return list.map(function (a) { return a.formatted; }).join(' + ');
  }
  function count(list) { return (list || []).reduce(function (n, a) { return n + (a.count || 0); }, 0); }
  function percent(rate) { return rate == null ? '–' : (Math.round(rate * 1000) / 10) + '%'; }
  function day(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  }
  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
  }
  var METHODS = { token: 'link click', code: 'typed code', email: 'email invite', fingerprint: 'browser match', manual: 'by hand' };
  var CHANNELS = { whatsapp: 'WhatsApp', sms: 'Text message', email: 'Email', direct: 'Link / other' };

  function say(ok, text) {
    var m = $('message');
    m.className = 'status message ' + (ok ? 'ok' : 'error');
    m.textContent = text;
  }

  // --- the API -------------------------------------------------------------------------------------

  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    if (method !== 'GET') {
      headers['x-csrf-token'] = session ? session.csrf_token : '';
      if (body !== undefined) headers['Content-Type'] = 'application/json';
    }
    return fetch(path, { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return new Promise(function () {}); }
        return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; });
      });
  }

  function get(path) {
    return api('GET', path).then(function (res) {
      if (res.status !== 200) throw new Error(res.body.message || 'the console could not read ' + path);
      return res.body;
    });
  }

  // --- views ---------------------------------------------------------------------------------------

  var VIEWS = ['overview', 'referrals', 'referral', 'referrers', 'referrer', 'queue'];

  function route() {
    var hash = window.location.hash.replace(/^#\/?/, '');
    var path = hash.split('?')[0];
    var parts = path.split('/').filter(Boolean);
    var view = parts[0] || 'overview';
    var arg = parts[1] ? decodeURIComponent(parts[1]) : null;
    if (view === 'referrals' && arg) view = 'referral';
    if (view === 'referrers' && arg) view = 'referrer';
    if (VIEWS.indexOf(view) < 0) view = 'overview';
    var changed = current.view !== view || current.arg !== arg;
    current = { view: view, arg: arg, query: hash.split('?')[1] || '' };
    VIEWS.forEach(function (v) { $('view-' + v).hidden = v !== view; });
    var navView = view === 'referral' ? 'referrals' : view === 'referrer' ? 'referrers' : view;
    document.querySelectorAll('.console-nav a').forEach(function (a) {
      if (a.getAttribute('data-view') === navView) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    if (changed) say(true, '');
    load(changed);
  }

  function load(focus) {
    var v = current.view;
    var done = v === 'overview' ? showOverview()
      : v === 'referrals' ? loadReferrals(false)
      : v === 'referral' ? loadReferral(current.arg)
      : v === 'referrers' ? loadReferrers(false)
      : v === 'referrer' ? loadReferrer(current.arg)
      : loadQueue();
    Promise.resolve(done)
      .then(function () { if (focus) { var h = document.querySelector('#view-' + v + ' h1'); if (h) h.focus(); } })
      .catch(function (e) { say(false, e.message); });
  }

  // --- overview ------------------------------------------------------------------------------------

  function showOverview() {
    if (overview) { renderOverview(); return null; }
    return get('/admin/api/overview').then(function (o) { overview = o; renderOverview(); });
  }

  function renderOverview() {
    var t = overview.totals;
    setText('t-clicks', String(t.clicks));
    setText('t-signups', String(t.signups));
    setText('t-conversions', String(t.conversions));
    setText('t-rate', percent(t.conversion_rate));
    setText('t-revenue', amounts(t.revenue));
    setText('t-paid', amounts(t.rewards_paid));
    setText('t-owed', amounts(t.rewards_owed));
    setText('t-parked', amounts(t.rewards_parked));
    setText('t-held', String(t.held));
    setText('t-refunded', String(count(t.refunded)));
    renderSeries();
    var top = $('top-referrers');
    top.textContent = '';
    overview.top_referrers.forEach(function (r) {
      top.appendChild(el('tr', {}, [
        el('td', {}, [el('a', { href: '#/referrers/' + encodeURIComponent(r.customer_id), text: (r.first_name ? r.first_name + ' · ' : '') + r.customer_id })]),
        el('td', { className: 'mono', text: r.code }),
        el('td', { className: 'num', text: String(r.clicks) }),
        el('td', { className: 'num', text: String(r.signups) }),
        el('td', { className: 'num', text: String(r.conversions) }),
        el('td', { className: 'num', text: String(r.rewarded) }),
        el('td', { className: 'num', text: r.earned.length ? r.earned.map(function (e) { return e.formatted; }).join(' + ') : '–' })
      ]));
    });
    if (!overview.top_referrers.length) top.appendChild(el('tr', {}, [el('td', { colspan: '7', text: 'No referrers yet.' })]));
    var ch = $('channels');
    ch.textContent = '';
    overview.channels.forEach(function (c) {
      ch.appendChild(el('tr', { 'data-channel': c.channel }, [
        el('td', { text: CHANNELS[c.channel] || c.channel }),
        el('td', { className: 'num', text: String(c.clicks) }),
        el('td', { className: 'num', text: String(c.signups) }),
        el('td', { className: 'num', text: String(c.conversions) })
      ]));
    });
    if (!overview.channels.length) ch.appendChild(el('tr', {}, [el('td', { colspan: '4', text: 'No clicks or sign-ups yet.' })]));
  }

  var CAPTIONS = {
    daily: 'The last 30 days. Clicks are kept for 30 days.',
    weekly: 'The last 12 weeks, from Mondays. Clicks are kept for 30 days.',
    monthly: 'The last 12 months. Clicks are kept for 30 days.'
  };

  function renderSeries() {
    var body = $('series');
    body.textContent = '';
    setText('series-caption', CAPTIONS[period]);
    overview[period].slice().reverse().forEach(function (b) {
      body.appendChild(el('tr', {}, [
        el('td', { text: day(b.start) }),
        el('td', { className: 'num', text: String(b.clicks) }),
        el('td', { className: 'num', text: String(b.signups) }),
        el('td', { className: 'num', text: String(b.conversions) }),
        el('td', { className: 'num', text: b.revenue.length ? amounts(b.revenue) : '–' })
      ]));
    });
  }

  document.querySelectorAll('[data-period]').forEach(function (b) {
    b.addEventListener('click', function () {
      period = b.getAttribute('data-period');
      document.querySelectorAll('[data-period]').forEach(function (o) { o.setAttribute('aria-pressed', String(o === b)); });
      if (overview) renderSeries();
    });
  });

  // --- referrals -----------------------------------------------------------------------------------

  var referralsCursor = null;

  function filterQuery() {
    var form = $('filters');
    var params = new URLSearchParams();
    ['customer', 'code', 'state', 'method', 'from', 'to'].forEach(function (k) {
      var v = form.elements[k].value.trim();
      if (v) params.set(k, v);
    });
    return params;
  }

  function fillFilters(query) {
    var params = new URLSearchParams(query);
    var form = $('filters');
    ['customer', 'code', 'state', 'method', 'from', 'to'].forEach(function (k) { form.elements[k].value = params.get(k) || ''; });
  }

  function referralItem(r) {
    var bits = [METHODS[r.method] || r.method, 'code ' + r.code, 'referrer ' + r.referrer_id, 'signed up ' + day(r.created_at)];
    if (r.order) bits.push('first order ' + r.order.amount);
    if (r.refunded_at) bits.push('refunded');
    return el('li', { 'data-referral': r.referral_id, 'data-state': r.state }, [
      el('div', { className: 'row-head' }, [
        el('a', { href: '#/referrals/' + encodeURIComponent(r.referral_id), text: (r.friend_name ? r.friend_name + ' · ' : '') + r.referred_id }),
        el('span', { className: 'badge ' + r.state, text: r.state })
      ]),
      el('p', { className: 'row-meta', text: bits.join(' · ') }),
      r.reasons.length ? el('p', { className: 'row-meta', text: 'Screen: ' + r.reasons.join(', ') }) : null
    ]);
  }

  function loadReferrals(more) {
    if (!more) { fillFilters(current.query); referralsCursor = null; }
    var params = new URLSearchParams(current.query);
    if (!params.has('limit')) params.set('limit', '25');
    if (more && referralsCursor) params.set('cursor', referralsCursor);
    $('export-referrals').href = '/admin/api/export/referrals.csv?' + new URLSearchParams(current.query).toString();
    return get('/admin/api/referrals?' + params.toString()).then(function (page) {
      var list = $('referrals');
      if (!more) list.textContent = '';
      page.referrals.forEach(function (r) { list.appendChild(referralItem(r)); });
      referralsCursor = page.next_cursor || null;
      $('referrals-more').hidden = !referralsCursor;
      var shown = list.children.length;
      setText('referrals-count', shown ? plural(shown, 'referral', 'referrals') + ' shown' + (referralsCursor ? '; there may be more.' : '.') : 'No referral matches.');
      var customer = params.get('customer');
      $('customer-card').hidden = true;
      if (!more && !shown && customer && customer.indexOf('@') < 0) return showCustomer(customer);
    });
  }

  // A customer a search finds no referral for: why their sign-up credited nobody, and the way to
  // credit it by hand.
  function showCustomer(customer) {
    return api('GET', '/admin/api/customers/' + encodeURIComponent(customer)).then(function (res) {
      if (res.status !== 200) return;
      var c = res.body;
      setText('customer-heading', 'Customer ' + c.customer_id);
      var history = $('customer-history');
      history.textContent = '';
      c.history.forEach(function (line) {
        history.appendChild(el('li', { 'data-kind': line.kind }, [
          el('span', { className: 'when', text: when(line.at) }),
          el('span', { className: 'title', text: line.title + '.' }),
          line.details.length ? el('ul', {}, line.details.map(function (d) { return el('li', { text: d }); })) : null
        ]));
      });
      setText('customer-credit-note', c.creditable
        ? 'A person may credit this sign-up to a referrer' + (c.first_order ? '; their order ' + c.first_order + ' would then convert it.' : '.')
        : 'It cannot be credited by hand: ' + c.not_creditable + '.');
      var button = $('customer-credit');
      button.hidden = !c.creditable;
      button.onclick = function () {
        $('c-customer').value = c.customer_id;
        window.location.hash = '#/queue';
      };
      $('customer-card').hidden = false;
    });
  }

  $('filters').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var q = filterQuery().toString();
    var target = '#/referrals' + (q ? '?' + q : '');
    if (window.location.hash === target) loadReferrals(false); else window.location.hash = target;
  });
  $('referrals-more').addEventListener('click', function () { loadReferrals(true).catch(function (e) { say(false, e.message); }); });

  // --- one referral --------------------------------------------------------------------------------

  function fact(dl, term, value) {
    if (value === null || value === undefined || value === '') return;
    dl.appendChild(el('dt', { text: term }));
    dl.appendChild(el('dd', { text: value }));
  }

  function loadReferral(id) {
    return get('/admin/api/referrals/' + encodeURIComponent(id)).then(function (v) {
      var r = v.referral;
      var s = v.story;
      setText('referral-heading', 'Referral of ' + (r.friend_name ? r.friend_name + ' (' + r.referred_id + ')' : r.referred_id));
      setText('r-headline', s.headline);
      var dl = $('r-facts');
      dl.textContent = '';
      fact(dl, 'Referral', r.referral_id);
      fact(dl, 'State', r.state);
      fact(dl, 'Referrer', r.referrer_id + ' (code ' + r.code + ')');
      fact(dl, 'Friend', r.referred_id);
      fact(dl, 'Attributed by', METHODS[r.method] || r.method);
      fact(dl, 'Shared by', r.channel ? (CHANNELS[r.channel] || r.channel) : null);
      fact(dl, 'Signed up', when(r.created_at));
      fact(dl, 'First order', r.order ? r.order.order_id + ', ' + r.order.amount + ', ' + when(r.order.occurred_at) : 'not yet');
      fact(dl, 'Rewards', 'referrer: ' + v.referrer_reward + '; friend: ' + v.friend_reward);
      $('r-refund').hidden = !s.refund;
      $('decision').className = 'decision' + (s.refund ? ' has-refund' : '');
      setText('r-refund', s.refund || '');
      $('r-actions').hidden = !v.decidable;
      $('r-approve').onclick = function () { decide(r.referral_id, 'approve'); };
      $('r-reject').onclick = function () { decide(r.referral_id, 'reject'); };
      setText('r-identity', s.identity);
      var story = $('r-story');
      story.textContent = '';
      s.lines.forEach(function (line) {
        story.appendChild(el('li', { 'data-kind': line.kind }, [
          el('span', { className: 'when', text: when(line.at) }),
          el('span', { className: 'title', text: line.title + '.' }),
          line.details.length ? el('ul', {}, line.details.map(function (d) { return el('li', { text: d }); })) : null
        ]));
      });
      var ledger = $('r-ledger');
      ledger.textContent = '';
      $('r-ledger-empty').hidden = s.ledger.length > 0;
      s.ledger.forEach(function (row) {
        ledger.appendChild(el('li', { 'data-side': row.side, 'data-status': row.status }, [
          el('div', { className: 'row-head' }, [
            el('strong', { text: (row.side === 'referrer' ? 'Referrer ' : 'Friend ') + row.customer_id + ': ' + row.reward + ' (' + row.amount + ')' }),
            el('span', { className: 'badge', text: row.status })
          ]),
          el('p', { className: 'row-meta', text: row.sentence }),
          row.status === 'parked' ? retryButton(r.referral_id, row.side) : null
        ]));
      });
    });
  }

  function retryButton(referralId, side) {
    var b = el('button', { type: 'button', className: 'btn-secondary', 'data-testid': 'retry-' + side, text: 'Retry this reward' });
    b.addEventListener('click', function () {
      api('POST', '/admin/api/rewards/' + encodeURIComponent(referralId) + '/' + side + '/retry').then(function (res) {
        say(res.status < 300, res.body.message || 'Retry queued: the reward goes to the store again within moments.');
      });
    });
    return el('div', { className: 'btn-row' }, [b]);
  }

  function decide(id, action) {
    api('POST', '/admin/api/referrals/' + encodeURIComponent(id) + '/' + action).then(function (res) {
      if (res.status === 202) {
        say(true, (action === 'approve' ? 'Approved' : 'Rejected') + ': the decision is recorded under your name and applies within moments.');
        window.setTimeout(function () { load(false); }, 800);
      } else {
        say(false, res.body.message || 'The decision could not be recorded.');
      }
    });
  }

  // --- referrers -----------------------------------------------------------------------------------

  var referrersCursor = null;

  function loadReferrers(more) {
    if (!more) referrersCursor = null;
    var params = new URLSearchParams({ status: referrerStatus, limit: '25' });
    if (more && referrersCursor) params.set('cursor', referrersCursor);
    return get('/admin/api/referrers?' + params.toString()).then(function (page) {
      var body = $('referrers');
      if (!more) body.textContent = '';
      page.referrers.forEach(function (r) {
        body.appendChild(el('tr', { 'data-customer': r.customer_id }, [
          el('td', {}, [el('a', { href: '#/referrers/' + encodeURIComponent(r.customer_id), text: (r.first_name ? r.first_name + ' · ' : '') + r.customer_id })]),
          el('td', { className: 'mono', text: r.code }),
          el('td', { className: 'num', text: String(r.clicks) }),
          el('td', { className: 'num', text: String(r.signups) }),
          el('td', { className: 'num', text: String(r.conversions) }),
          el('td', { className: 'num', text: String(r.rewarded) }),
          el('td', { className: 'num', text: r.earned.length ? r.earned.map(function (e) { return e.formatted; }).join(' + ') : '–' })
        ]));
      });
      if (!body.children.length) body.appendChild(el('tr', {}, [el('td', { colspan: '7', text: 'No referrers here yet.' })]));
      referrersCursor = page.next_cursor || null;
      $('referrers-more').hidden = !referrersCursor;
    });
  }

  document.querySelectorAll('[data-status]').forEach(function (b) {
    if (b.tagName !== 'BUTTON') return;
    b.addEventListener('click', function () {
      referrerStatus = b.getAttribute('data-status');
      document.querySelectorAll('button[data-status]').forEach(function (o) { o.setAttribute('aria-pressed', String(o === b)); });
      loadReferrers(false).catch(function (e) { say(false, e.message); });
    });
  });
  $('referrers-more').addEventListener('click', function () { loadReferrers(true).catch(function (e) { say(false, e.message); }); });

  function tile(dl, term, value) {
    dl.appendChild(el('div', { className: 'tile' }, [el('dt', { text: term }), el('dd', { text: value })]));
  }

  function loadReferrer(customer) {
    return get('/admin/api/referrers/' + encodeURIComponent(customer)).then(function (v) {
      var f = v.figures;
      setText('referrer-heading', (f.first_name ? f.first_name + ' · ' : '') + f.customer_id);
      var tiles = $('rr-tiles');
      tiles.textContent = '';
      tile(tiles, 'Clicks (30 days)', String(f.clicks));
      tile(tiles, 'Sign-ups', String(f.signups));
      tile(tiles, 'First orders', String(f.conversions));
      tile(tiles, 'Rewarded', String(f.rewarded));
      tile(tiles, 'Earned', f.earned.length ? f.earned.map(function (e) { return e.formatted; }).join(' + ') : '£0');
      tile(tiles, 'Conversion rate', percent(f.conversion_rate));
      var codes = $('rr-codes');
      codes.textContent = '';
      v.codes.slice().reverse().forEach(function (c) {
        var actions = [];
        if (c.status === 'active') {
          var retire = el('button', { type: 'button', className: 'reject', 'data-testid': 'retire-' + c.code, text: 'Retire code ' + c.code });
          retire.addEventListener('click', function () { retireCode(c.code); });
          var clear = el('button', { type: 'button', className: 'btn-quiet', 'data-testid': 'clear-flag-' + c.code, text: 'Clear velocity flag' });
          clear.addEventListener('click', function () {
            api('POST', '/admin/api/codes/' + encodeURIComponent(c.code) + '/clear-flag').then(function (res) { say(res.status < 300, res.body.message || 'Cleared.'); });
          });
          actions = [retire, clear];
        }
        codes.appendChild(el('li', { 'data-code': c.code, 'data-status': c.status }, [
          el('div', { className: 'row-head' }, [el('strong', { className: 'mono', text: c.code }), el('span', { className: 'badge', text: c.status })]),
          el('p', { className: 'row-meta', text: 'Minted ' + day(c.created_at) + (c.retired_at ? '; retired ' + day(c.retired_at) : '') }),
          c.history.length ? el('ul', { className: 'row-meta history' }, c.history.map(function (h) {
            return el('li', { text: when(h.at) + ': ' + h.title + '.' + (h.details.length ? ' ' + h.details.join(' ') : '') });
          })) : null,
          actions.length ? el('div', { className: 'btn-row' }, actions) : null
        ]));
      });
      var list = $('rr-referrals');
      list.textContent = '';
      v.referrals.forEach(function (r) { list.appendChild(referralItem(r)); });
      if (!v.referrals.length) list.appendChild(el('li', { text: 'No friend has signed up through them yet.' }));
    });
  }

  function retireCode(code) {
    if (!window.confirm('Retire code ' + code + '? Its link stops crediting anyone. This cannot be undone.')) return;
    api('POST', '/admin/api/codes/' + encodeURIComponent(code) + '/retire').then(function (res) {
      if (res.status === 200) { say(true, 'Code ' + code + ' is retired; the audit records it under your name.'); load(false); }
      else say(false, res.body.message || 'The code could not be retired.');
    });
  }

  // --- what waits for a person ---------------------------------------------------------------------

  function decisionRow(r) {
    var item = referralItem(r);
    var approve = el('button', { type: 'button', 'data-testid': 'approve-' + r.referral_id, text: 'Approve' });
    var reject = el('button', { type: 'button', className: 'reject', 'data-testid': 'reject-' + r.referral_id, text: 'Reject' });
    approve.addEventListener('click', function () { decide(r.referral_id, 'approve'); });
    reject.addEventListener('click', function () { decide(r.referral_id, 'reject'); });
    item.appendChild(el('div', { className: 'btn-row' }, [approve, reject]));
    return item;
  }

  function loadQueue() {
    return get('/admin/api/queues').then(function (q) {
      var held = $('q-held');
      held.textContent = '';
      q.held.forEach(function (r) { held.appendChild(decisionRow(r)); });
      if (!q.held.length) held.appendChild(el('li', { text: 'Nothing is held.' }));
      var refunds = $('q-refunds');
      refunds.textContent = '';
      q.refund_review.forEach(function (r) { refunds.appendChild(decisionRow(r)); });
      if (!q.refund_review.length) refunds.appendChild(el('li', { text: 'No refund waits for a review.' }));
      var parked = $('q-parked');
      parked.textContent = '';
      q.parked.forEach(function (p) {
        parked.appendChild(el('li', { 'data-referral': p.referral_id, 'data-side': p.side }, [
          el('div', { className: 'row-head' }, [
            el('a', { href: '#/referrals/' + encodeURIComponent(p.referral_id), text: (p.side === 'referrer' ? 'Referrer ' : 'Friend ') + p.customer_id + ': ' + p.amount }),
            el('span', { className: 'badge', text: 'parked' })
          ]),
          el('p', { className: 'row-meta', text: plural(p.attempts, 'attempt', 'attempts') + '; the store said: ' + p.reason }),
          retryButton(p.referral_id, p.side)
        ]));
      });
      if (!q.parked.length) parked.appendChild(el('li', { text: 'No reward is parked.' }));
      var flagged = $('q-flagged');
      flagged.textContent = '';
      q.flagged_codes.forEach(function (f) {
        var clear = el('button', { type: 'button', className: 'btn-secondary', 'data-testid': 'clear-flag-' + f.code, text: 'Clear velocity flag' });
        clear.addEventListener('click', function () {
          api('POST', '/admin/api/codes/' + encodeURIComponent(f.code) + '/clear-flag').then(function (res) { say(res.status < 300, res.body.message || 'Cleared.'); });
        });
        flagged.appendChild(el('li', { 'data-code': f.code }, [
          el('div', { className: 'row-head' }, [
            el('a', { href: '#/referrers/' + encodeURIComponent(f.referrer_id), text: 'Code ' + f.code + ' (' + f.referrer_id + ')' }),
            el('span', { className: 'badge held', text: plural(f.held, 'held referral', 'held referrals') })
          ]),
          el('p', { className: 'row-meta', text: 'Rules: ' + f.rules.join(', ') }),
          el('div', { className: 'btn-row' }, [clear])
        ]));
      });
      if (!q.flagged_codes.length) flagged.appendChild(el('li', { text: 'No code is flagged.' }));
    });
  }

  $('credit-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var form = ev.target;
    var body = { customer_id: form.elements.customer_id.value.trim(), referrer_id: form.elements.referrer_id.value.trim(), reason: form.elements.reason.value.trim() };
    api('POST', '/admin/api/credits', body).then(function (res) {
      if (res.status >= 300) { say(false, res.body.message || 'Not credited.'); return; }
      var done = 'Credited to ' + res.body.referrer_id + ' through code ' + res.body.code + '.';
      if (res.body.first_order) done += ' Their order ' + res.body.first_order + ' converts it.';
      say(true, done);
      form.reset();
    });
  });

  // --- live updates --------------------------------------------------------------------------------

  var reloadTimer = null;
  function live() {
    if (!window.EventSource) { setText('live', 'Live updates are not supported by this browser.'); return; }
    var source = new EventSource('/admin/api/events');
    var first = true;
    source.addEventListener('overview', function (ev) {
      try { overview = JSON.parse(ev.data); } catch (e) { return; }
      $('live').className = 'live on';
      setText('live', 'Live · updated ' + new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
      if (current.view === 'overview') renderOverview();
      else if (!first) {
        window.clearTimeout(reloadTimer);
        reloadTimer = window.setTimeout(function () { load(false); }, 300);
      }
      first = false;
    });
    source.addEventListener('error', function () {
      $('live').className = 'live';
      setText('live', 'Reconnecting…');
    });
  }

  // --- start ---------------------------------------------------------------------------------------

  $('sign-out').addEventListener('click', function () {
    api('POST', '/admin/api/logout').then(function () { window.location.href = '/admin'; });
  });

  get('/admin/api/session').then(function (s) {
    session = s;
    setText('whoami', s.email);
    setText('brand', s.business + ' referrals');
    setText('brand-mark', s.business.charAt(0).toUpperCase());
    document.title = s.business + ' referrals console';
    window.addEventListener('hashchange', route);
    route();
    live();
  }).catch(function (e) { say(false, e.message); });
})();
