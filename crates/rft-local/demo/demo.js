// The FreshBox demo shop (rft-local only): the control panel (/demo) and the shop's sign-up
// page (/demo/signup, the programme's landing page in the local settings). It plays the store's
// part through the demo backend (/demo/api/*), which signs each call and sends it to the real
// API in-process. The people of one demo run live in localStorage so both pages (and tabs) see them.
(function () {
  'use strict';

  var KEY = 'rft-demo-v1';
  var POLL_MS = 2000;
  // min_click_to_conversion in settings.local.toml is 5 s: a first order sooner than that after
  // the click is held. The sign-up page suggests waiting one second more.
  var HOLD_SECS = 5;
  var WAIT_SECS = HOLD_SECS + 1;
  var FRIEND_NAMES = ['Mara', 'Priya', 'Tom', 'Aisha', 'Ben', 'Zoe', 'Leo', 'Nina', 'Omar', 'Ruth'];
  var BOX = { name: 'The Classic box', amount_minor: 3999, currency: 'GBP' };

  // How the programme's store is connected (the server puts store.kind on <body>): "webhooks"
  // (the shop's own code, the demo's signed API calls), or "stripe" / "shopify", where the demo
  // plays the provider: a checkout page, the provider's signed webhooks, and its API stand-in.
  var KIND = document.body.getAttribute('data-store-kind') || 'webhooks';
  var PROVIDER = { stripe: 'Stripe', shopify: 'Shopify' }[KIND] || null;

  var $ = RftDom.$;
  var el = RftDom.el;

  function setStatus(id, ok, text) {
    var node = $(id);
    node.className = 'status ' + (ok === null ? '' : ok ? 'ok' : 'error');
    node.textContent = text;
  }

  // The address typed in `inputId`, or null after saying in `errorId` what is wrong with it.
  function checkedEmail(inputId, errorId) {
    var input = $(inputId);
    var email = input.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      input.setAttribute('aria-invalid', 'true');
      $(errorId).textContent = 'Enter an email address, like name@example.com.';
      $(errorId).hidden = false;
      input.focus();
      return null;
    }
    input.removeAttribute('aria-invalid');
    $(errorId).hidden = true;
    return email;
  }

  function sleep(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  // --- state -------------------------------------------------------------------------------------

  function randomRun() {
    var chars = 'abcdefghjkmnpqrstuvwxyz23456789';
    var out = '';
    var bytes = new Uint8Array(5);
    if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
    else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes.forEach(function (b) { out += chars[b % chars.length]; });
    return out;
  }

  function load() {
    var s = null;
    try { s = JSON.parse(window.localStorage.getItem(KEY) || 'null'); } catch (e) { s = null; }
    if (!s || !s.run) s = { run: randomRun(), dan: null, friends: [], playing: null };
    s.friends = s.friends || [];
    return s;
  }

  function save(s) {
    try { window.localStorage.setItem(KEY, JSON.stringify(s)); } catch (e) { /* private mode: the page still works for this visit */ }
  }

  // A digit per character: Shopify customer ids are numbers.
  function digitsOf(text) {
    var out = '';
    for (var i = 0; i < text.length; i++) out += String(text.charCodeAt(i) % 10);
    return out;
  }

  function customerId(slug, run) {
    if (KIND === 'shopify') return '7' + (digitsOf(slug) + '000000').slice(0, 6) + digitsOf(run);
    // A Stripe customer (cus_...) can hold a balance; a friend paying as a guest is known by email.
    if (KIND === 'stripe') return 'cus_' + slug + run;
    return 'c_' + slug + '_' + run;
  }

  function person(run, name, index) {
    var slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '');
    return {
      customer_id: customerId(slug, run),
      first_name: name,
      email: slug + '.' + run + '@example.com',
      card: 'card_' + slug + '_' + run,
      phone: 'phone_' + slug + '_' + run,
      ip: '198.51.100.' + (10 + index)
    };
  }

  function danOf(run) {
    var dan = person(run, 'Dan', 0);
    dan.ip = '203.0.113.7';
    return dan;
  }

  function nextFriendName(s) {
    var used = s.friends.map(function (f) { return f.first_name; });
    for (var i = 0; i < FRIEND_NAMES.length; i++) if (used.indexOf(FRIEND_NAMES[i]) < 0) return FRIEND_NAMES[i];
    return 'Friend ' + (s.friends.length + 1);
  }

  function linkPath(url) {
    try { var u = new URL(url, window.location.href); return u.pathname + u.search; } catch (e) { return url; }
  }

  // --- the demo backend ----------------------------------------------------------------------------

  function api(method, path, body) {
    var init = { method: method, headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (t) {
        var json = null;
        try { json = t ? JSON.parse(t) : null; } catch (e) { json = null; }
        return { status: r.status, body: json };
      });
    });
  }

  function mintDan(s) {
    var dan = danOf(s.run);
    return api('POST', '/demo/api/link', {
      customer_id: dan.customer_id, first_name: 'Dan', email: dan.email,
      identity: { payment_fingerprint: dan.card, device_id: dan.phone, ip: dan.ip, user_agent: navigator.userAgent }
    }).then(function (res) {
      if (res.status !== 200 && res.status !== 201) throw new Error(describeError(res));
      var b = res.body;
      dan.code = b.code; dan.url = b.url; dan.invite = b.invite; dan.terms = b.terms; dan.portal_url = b.portal_url;
      s.dan = dan;
      save(s);
      return dan;
    });
  }

  function describeError(res) {
    if (res.body && res.body.message) return res.body.message + ' (' + res.status + ')';
    return 'the demo backend answered ' + res.status;
  }

  function referral(customerId) {
    return api('GET', '/demo/api/referral/' + encodeURIComponent(customerId)).then(function (res) {
      if (res.status === 200) return res.body;
      if (res.status === 404) return null;
      throw new Error(describeError(res));
    });
  }

  // Polls the referral until test(referral) holds or the time runs out; the last answer.
  function waitFor(customerId, test, timeoutMs) {
    var deadline = Date.now() + (timeoutMs || 15000);
    function again() {
      return referral(customerId).then(function (r) {
        if (test(r) || Date.now() > deadline) return r;
        return sleep(250).then(again);
      });
    }
    return again();
  }

  // Opens a referral link the way a browser does (the click is logged), and reads the token the
  // redirect put on the landing page's URL. If the landing page is on another origin the
  // redirect cannot be read; the code is then used as if typed at sign-up.
  function click(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        var u = new URL(r.url);
        return { token: u.searchParams.get('rft'), code: u.searchParams.get('utm_campaign') };
      })
      .catch(function () { return { token: null, code: null }; });
  }

  function signupBody(f) {
    var body = {
      customer_id: f.customer_id, email: f.email, first_name: f.first_name,
      identity: { payment_fingerprint: f.card, device_id: f.phone, ip: f.ip, user_agent: navigator.userAgent }
    };
    if (f.token) body.attribution_token = f.token;
    else if (f.code) body.code = f.code;
    return body;
  }

  function convertBody(f) {
    return {
      customer_id: f.customer_id, order_id: f.order_id, amount_minor: BOX.amount_minor, currency: BOX.currency,
      payment_fingerprint: f.card, device_id: f.phone
    };
  }

  // Shows, in `node`, how long since the click at `clickedAt` and whether a first order now would
  // be held as too quick (data-ready="true" once it would not). Returns a function that stops it.
  function startTiming(node, clickedAt, verb) {
    var timer = null;
    function tick() {
      var secs = Math.floor((Date.now() - clickedAt) / 1000);
      var ready = secs >= WAIT_SECS;
      node.dataset.ready = ready ? 'true' : 'false';
      node.textContent = ready
        ? 'It\u2019s been ' + secs + ' s since you opened the link: ' + verb + ' now and both rewards are paid at once.'
        : secs + ' s since you opened the link. A first order within ' + HOLD_SECS + ' s of the click is held for a person (it looks like a script); wait ' +
          (WAIT_SECS - secs) + ' s more for an instant reward, or ' + verb + ' now to see the hold.';
      if (ready && timer) { window.clearInterval(timer); timer = null; }
    }
    tick();
    if (node.dataset.ready !== 'true') timer = window.setInterval(tick, 250);
    return function () { if (timer) { window.clearInterval(timer); timer = null; } };
  }

  function stateText(r) {
    if (!r) return 'no referral';
    return r.state;
  }

  var REASONS = {
    self_referral: 'the referrer\u2019s own account',
    same_payment_and_device: 'the same card and device as the referrer',
    identity_match: 'an identity shared with the referrer',
    code_click_velocity: 'too many clicks on the code',
    code_signup_velocity: 'too many sign-ups through the code',
    ip_signup_velocity: 'too many sign-ups from one IP',
    disposable_email: 'a disposable email address',
    fingerprint_match: 'a match by browser only',
    quick_conversion: 'a first order seconds after the click'
  };
  function reasonsText(r) {
    if (!r || !r.reasons || !r.reasons.length) return '';
    return r.reasons.map(function (x) { return REASONS[x] || x.replace(/_/g, ' '); }).join(', ');
  }

  // --- the control panel (/demo) -------------------------------------------------------------------

  function controlPanel() {
    var s = load();
    save(s);
    var lastOutbox = '';
    var lastStore = '';
    var states = {};

    function renderPeople() {
      var dan = danOf(s.run);
      $('run-people').textContent = 'Dan is ' + dan.customer_id + ' (' + dan.email + ')';
      var next = nextFriendName(s);
      $('next-friend-name').textContent = s.friends.length ? next : 'Mara';
      Array.prototype.forEach.call(document.querySelectorAll('.friend-name'), function (n) { n.textContent = next; });

      var has = !!(s.dan && s.dan.code);
      $('dan-link-block').hidden = !has;
      $('dan-get-link').textContent = has ? 'Refresh Dan\u2019s link' : 'Get Dan\u2019s link';
      if (has) {
        $('dan-url').textContent = s.dan.url;
        $('dan-url').href = linkPath(s.dan.url);
        $('dan-code').textContent = s.dan.code;
        $('dan-portal').href = s.dan.portal_url;
        $('dan-invite').textContent = s.dan.invite || '';
        var t = s.dan.terms || {};
        $('dan-terms').textContent = 'Dan gets ' + ((t.referrer_reward || {}).description || 'a reward') +
          ' and his friend gets ' + ((t.friend_reward || {}).description || 'a treat') +
          ' when the friend\u2019s first order is confirmed.';
        $('mara-open').href = linkPath(s.dan.url);
      }
      $('mara-open').hidden = !has;
      $('mara-open-disabled').hidden = has;
      $('mara-need-link').hidden = has;
      $('self-referral').disabled = !has;
      $('quick-friend').disabled = !has;
      renderFriends();
    }

    function renderFriends() {
      var list = $('friends');
      list.textContent = '';
      if (!s.friends.length) { list.appendChild(el('li', { className: 'hint', text: 'Nobody yet.' })); return; }
      s.friends.forEach(function (f) {
        var r = states[f.customer_id];
        var step = f.bought_at ? 'bought a first box' : f.signed_up_at ? 'signed up' : 'opened the link';
        var badge = r ? el('span', { className: 'badge ' + r.state, 'data-testid': 'friend-state', text: r.state })
          : el('span', { className: 'badge', 'data-testid': 'friend-state', text: f.signed_up_at ? 'checking' : 'not signed up' });
        var why = reasonsText(r);
        list.appendChild(el('li', { 'data-customer-id': f.customer_id, 'data-kind': f.kind, 'data-testid': 'friend' }, [
          el('span', { className: 'who' }, [el('strong', { text: f.first_name }), ' ', el('span', { className: 'hint mono', text: f.customer_id })]),
          el('span', { className: 'what', text: step }),
          badge,
          why ? el('span', { className: 'why hint', text: 'Why: ' + why }) : null
        ]));
      });
    }

    function pollFriends() {
      var signed = s.friends.filter(function (f) { return f.signed_up_at; });
      return Promise.all(signed.map(function (f) {
        return referral(f.customer_id).then(function (r) { states[f.customer_id] = r; }, function () { /* keep the last answer */ });
      })).then(renderFriends);
    }

    var KINDS = {
      invite: 'Invite to a friend',
      invite_confirmation: 'Invite confirmation to the referrer',
      thank_you_referrer: 'Thank-you to the referrer',
      thank_you_friend: 'Thank-you to the friend',
      hold_review: 'Held: review needed (to the team)',
      refund_review: 'Refund review (to the team)',
      fulfilment_parked: 'Reward delivery parked (to the team)'
    };

    // Message text with its http(s) links made clickable; everything else stays text.
    function linkified(text) {
      var p = el('p', { className: 'msg-body' });
      var re = /https?:\/\/[^\s<>"')]+/g;
      var at = 0;
      var m;
      while ((m = re.exec(text))) {
        if (m.index > at) p.appendChild(document.createTextNode(text.slice(at, m.index)));
        var href = m[0].replace(/[.,;:]+$/, '');
        p.appendChild(el('a', { href: href, target: '_blank', rel: 'noopener', text: href }));
        at = m.index + href.length;
      }
      if (at < text.length) p.appendChild(document.createTextNode(text.slice(at)));
      return p;
    }

    function renderOutbox(messages) {
      var key = JSON.stringify(messages.length) + (messages.length ? JSON.stringify(messages[messages.length - 1]) : '');
      if (key === lastOutbox) return;
      lastOutbox = key;
      $('outbox-count').textContent = String(messages.length);
      var box = $('outbox');
      box.textContent = '';
      if (!messages.length) { box.appendChild(el('p', { className: 'hint', text: 'Nothing sent yet.' })); return; }
      messages.slice(-40).reverse().forEach(function (m, i) {
        var channel = (m.channel || 'email').toLowerCase();
        var title = el('span', { className: 'msg-title' }, [
          el('span', { className: 'badge kind-' + m.kind, text: KINDS[m.kind] || m.kind }),
          ' ',
          el('span', { className: 'msg-to', text: (channel === 'sms' ? 'Text to ' : 'Email to ') + m.to })
        ]);
        var details = el('details', { className: 'msg', 'data-kind': m.kind, 'data-to': m.to, 'data-testid': 'message' }, [
          el('summary', {}, [title, m.subject ? el('span', { className: 'msg-subject', text: m.subject }) : null]),
          linkified(m.body || '')
        ]);
        if (i === 0) details.open = true;
        box.appendChild(details);
      });
    }

    function renderStore(fulfilled) {
      var key = JSON.stringify(fulfilled);
      if (key === lastStore) return;
      lastStore = key;
      $('store-count').textContent = String(fulfilled.length);
      var list = $('store');
      list.textContent = '';
      if (!fulfilled.length) { list.appendChild(el('li', { className: 'hint', text: 'No rewards yet.' })); return; }
      fulfilled.slice().reverse().forEach(function (f) {
        var reward = f.reward || {};
        var side = f.side === 'referrer' ? 'Referrer' : f.side === 'friend' ? 'Friend' : f.side;
        list.appendChild(el('li', { 'data-side': f.side, 'data-customer-id': f.customer_id, 'data-testid': 'reward' }, [
          el('span', { className: 'badge rewarded', text: side }),
          ' ',
          el('strong', { text: reward.description || ((reward.amount_minor || 0) / 100).toFixed(2) + ' ' + (reward.currency || '') }),
          ' for ',
          el('span', { className: 'mono', text: f.customer_id }),
          el('span', { className: 'hint key' }, ['Idempotency-Key ', el('span', { className: 'mono', text: f.idempotency_key || '' })])
        ]));
      });
    }

    var lastStandin = '';
    var SIDES = { referrer: 'Referrer', friend: 'Friend' };
    // The stand-in's calls that changed something: what, for whom, and the call as the provider saw it.
    function renderStandin(calls) {
      var key = JSON.stringify(calls);
      if (key === lastStandin) return;
      lastStandin = key;
      $('standin-count').textContent = String(calls.length);
      var list = $('standin');
      list.textContent = '';
      if (!calls.length) { list.appendChild(el('li', { className: 'hint', text: 'No calls yet.' })); return; }
      calls.slice().reverse().forEach(function (c) {
        var form = c.form || {};
        var detail = Object.keys(form).length
          ? Object.keys(form).map(function (k) { return k + '=' + form[k]; }).join('  ')
          : JSON.stringify(c.variables || {});
        list.appendChild(el('li', { 'data-side': c.side, 'data-what': c.what, 'data-testid': 'standin-call' }, [
          el('span', { className: 'badge rewarded', text: SIDES[c.side] || c.side }),
          ' ',
          el('strong', { text: c.what }),
          ' ',
          el('span', { className: 'mono', text: c.method + ' ' + c.path }),
          el('span', { className: 'hint key' }, c.idempotency_key
            ? ['Idempotency-Key ', el('span', { className: 'mono', 'data-testid': 'standin-key', text: c.idempotency_key })]
            : ['No Idempotency-Key (Shopify takes none for this call)']),
          el('span', { className: 'hint key mono', 'data-testid': 'standin-detail', text: detail.length > 400 ? detail.slice(0, 400) + '\u2026' : detail })
        ]));
      });
    }

    function pollLive() {
      return Promise.all([
        PROVIDER ? api('GET', '/demo/api/standin').then(function (r) { if (r.status === 200 && r.body) renderStandin(r.body.calls || []); }) : null,
        api('GET', '/demo/api/outbox').then(function (r) { if (r.status === 200 && r.body) renderOutbox(r.body.messages || []); }),
        api('GET', '/demo/api/store').then(function (r) { if (r.status === 200 && r.body) renderStore(r.body.fulfilled || []); }),
        pollFriends()
      ]).then(function () {
        $('live-updated').textContent = 'Last checked ' + new Date().toLocaleTimeString('en-GB') + '.';
      }, function () {
        $('live-updated').textContent = 'The demo server is not answering.';
      });
    }

    function refreshOpsLink() {
      return api('GET', '/demo/api/ops').then(function (r) {
        if (r.status === 200 && r.body && r.body.ops_url) {
          $('ops-open').href = r.body.ops_url;
          $('ops-open').removeAttribute('aria-disabled');
        }
      }, function () { /* retried on the next load */ });
    }

    $('dan-get-link').addEventListener('click', function () {
      var button = this;
      button.disabled = true;
      setStatus('dan-status', null, 'Asking the referral service for Dan\u2019s link\u2026');
      mintDan(s).then(function (dan) {
        setStatus('dan-status', true, 'Dan\u2019s link is ready: ' + dan.url);
        renderPeople();
      }, function (e) {
        setStatus('dan-status', false, 'Could not get Dan\u2019s link: ' + e.message);
      }).then(function () { button.disabled = false; });
    });

    $('mara-open').addEventListener('click', function () {
      s.playing = { name: nextFriendName(s), at: Date.now() };
      save(s);
    });

    $('reset').addEventListener('click', function () {
      s = { run: randomRun(), dan: null, friends: [], playing: null };
      states = {};
      save(s);
      setStatus('dan-status', null, '');
      setStatus('self-result', null, '');
      setStatus('quick-result', null, '');
      renderPeople();
    });

    $('self-referral').addEventListener('click', function () {
      var button = this;
      if (!s.dan) return;
      button.disabled = true;
      var dan = s.dan;
      var f = {
        kind: 'self', first_name: 'Dan (2nd account)',
        customer_id: 'c_dan2_' + s.run, email: 'dan.again.' + s.run + '@example.com',
        card: dan.card, phone: dan.phone, ip: dan.ip
      };
      setStatus('self-result', null, 'Dan opens his own link and signs up again with his card and phone\u2026');
      click(linkPath(dan.url)).then(function (t) {
        f.token = t.token; f.code = t.token ? null : dan.code;
        f.clicked_at = Date.now();
        return api('POST', '/demo/api/signup', signupBody(f));
      }).then(function (res) {
        if (res.status !== 202 && res.status !== 200) throw new Error(describeError(res));
        f.signed_up_at = Date.now();
        s.friends = s.friends.filter(function (x) { return x.customer_id !== f.customer_id; }).concat([f]);
        save(s);
        renderFriends();
        return waitFor(f.customer_id, function (r) { return r && r.state !== 'pending'; }, 10000);
      }).then(function (r) {
        states[f.customer_id] = r;
        renderFriends();
        if (r && r.state === 'blocked') {
          setStatus('self-result', true, 'Blocked: ' + reasonsText(r) + '. Nobody will ever be paid for this sign-up.');
        } else {
          setStatus('self-result', false, 'The screen answered: ' + stateText(r) + (reasonsText(r) ? ' (' + reasonsText(r) + ')' : '') + '.');
        }
      }).catch(function (e) {
        setStatus('self-result', false, 'The self-referral could not be tried: ' + e.message);
      }).then(function () { button.disabled = false; });
    });

    $('quick-friend').addEventListener('click', function () {
      var button = this;
      if (!s.dan) return;
      button.disabled = true;
      var name = nextFriendName(s);
      var f = person(s.run, name, s.friends.length + 1);
      f.kind = 'quick';
      setStatus('quick-result', null, name + ' clicks Dan\u2019s link, signs up and pays at once\u2026');
      click(linkPath(s.dan.url)).then(function (t) {
        f.token = t.token; f.code = t.token ? null : s.dan.code;
        f.clicked_at = Date.now();
        return api('POST', '/demo/api/signup', signupBody(f));
      }).then(function (res) {
        if (res.status !== 202 && res.status !== 200) throw new Error(describeError(res));
        f.signed_up_at = Date.now();
        s.friends.push(f);
        save(s);
        renderPeople();
        return waitFor(f.customer_id, function (r) { return !!r; }, 10000);
      }).then(function (r) {
        if (!r) throw new Error('the sign-up was not attributed to Dan');
        f.order_id = 'o_' + s.run + '_' + f.first_name.toLowerCase();
        return api('POST', '/demo/api/convert', convertBody(f));
      }).then(function (res) {
        if (res.status !== 202 && res.status !== 200) throw new Error(describeError(res));
        f.bought_at = Date.now();
        save(s);
        return waitFor(f.customer_id, function (r) { return r && r.state !== 'pending'; }, 10000);
      }).then(function (r) {
        states[f.customer_id] = r;
        renderFriends();
        if (r && r.state === 'held') {
          setStatus('quick-result', true, 'Held for a person: ' + name + ' paid ' +
            Math.round((f.bought_at - f.clicked_at) / 1000) + ' s after the click. The team has been emailed; approve it from the review queue.');
        } else {
          setStatus('quick-result', false, 'The screen answered: ' + stateText(r) + '.');
        }
      }).catch(function (e) {
        setStatus('quick-result', false, 'The quick friend could not be sent: ' + e.message);
      }).then(function () { button.disabled = false; });
    });

    window.addEventListener('storage', function (ev) {
      if (ev.key === KEY) { s = load(); renderPeople(); }
    });

    if (PROVIDER) showConnected();
    renderPeople();
    refreshOpsLink();
    // Refresh Dan's link (and his page's signed link) if he already has one in this run.
    if (s.dan) mintDan(s).then(renderPeople, function () { /* shown when the button is pressed */ });
    pollLive();
    window.setInterval(function () { if (!document.hidden) pollLive(); }, POLL_MS);
    document.addEventListener('visibilitychange', function () { if (!document.hidden) { s = load(); renderPeople(); pollLive(); } });
  }

  // Names the provider wherever the page says it.
  function nameProvider() {
    Array.prototype.forEach.call(document.querySelectorAll('.provider-name'), function (n) { n.textContent = PROVIDER; });
  }

  // The control panel when the programme is connected to Stripe or Shopify.
  function showConnected() {
    nameProvider();
    var note = $('store-kind');
    note.textContent = '';
    note.appendChild(document.createTextNode('The shop is connected to '));
    note.appendChild(el('strong', { text: PROVIDER }));
    note.appendChild(document.createTextNode(' (store.kind = "' + KIND + '"): ' + PROVIDER + ' sends its own signed webhooks to /webhooks/' + KIND +
      ' and both rewards go through its API, here a stand-in this demo serves at /demo/' + KIND + '-api. The shop writes no code.'));
    Array.prototype.forEach.call(document.querySelectorAll('.checkout-label'), function (n) {
      n.textContent = KIND === 'stripe' ? ': Stripe checkout' : ': Shopify order';
    });
    $('connected-friend').hidden = false;
    // The screen's games use the shop's own sign-up and order calls, which a connected store does not make.
    document.querySelector('[data-testid="role-cheat"]').hidden = true;
    $('store-card').hidden = true;
    $('standin-card').hidden = false;
  }

  // --- the connected store's checkout page (/demo/checkout) ----------------------------------------

  function checkoutPage() {
    var params = new URLSearchParams(window.location.search);
    // Stripe's Payment Link gets client_reference_id and prefilled_promo_code; a Shopify
    // storefront page the rft token and the UTM campaign (the code is in the cart).
    var token = params.get('client_reference_id') || params.get('rft');
    var code = params.get('prefilled_promo_code') || params.get('utm_campaign');
    var s = load();
    var f = null;
    if (s.playing && Date.now() - s.playing.at < 10 * 60 * 1000) {
      f = person(s.run, s.playing.name, s.friends.length + 1);
    } else {
      var mine = s.friends.filter(function (x) { return x.kind === 'friend' && token && x.token === token; });
      f = mine.length ? mine[mine.length - 1] : person(s.run, nextFriendName(s), s.friends.length + 1);
    }
    s.playing = null;
    if (!f.kind) {
      f.kind = 'friend';
      f.token = token;
      f.code = code;
      f.clicked_at = Date.now();
    }
    save(s);

    function persist() {
      var fresh = load();
      fresh.friends = fresh.friends.filter(function (x) { return x.customer_id !== f.customer_id; }).concat([f]);
      save(fresh);
      s = fresh;
    }

    nameProvider();
    Array.prototype.forEach.call(document.querySelectorAll('.friend-name'), function (n) { n.textContent = f.first_name; });
    var dan = s.dan && code && s.dan.code === code.toUpperCase() ? s.dan : null;
    var terms = (dan && dan.terms) || {};
    var friendReward = terms.friend_reward ? terms.friend_reward.description : null;
    if (token || code) {
      $('referral-banner').hidden = false;
      $('offer-title').textContent = (dan ? 'Dan' : 'A friend') + ' sent you ' + (friendReward || 'a treat');
      $('offer-detail').textContent = 'The code ' + (code || '') + ' is already applied below: ' + (friendReward || 'the treat') + ' comes off this order.';
    } else {
      $('plain-title').hidden = false;
    }
    if (!PROVIDER) {
      setStatus('checkout-status', false, 'This programme is not connected to Stripe or Shopify: start the demo with make run-stripe or make run-shopify.');
      $('checkout-pay').disabled = true;
      return;
    }
    $('checkout-pay').textContent = KIND === 'stripe' ? 'Pay \u00a339.99 with Stripe Checkout' : 'Place the Shopify order, \u00a339.99';
    $('checkout-email').value = f.email;
    $('checkout-code').value = code || '';

    var facts = KIND === 'stripe'
      ? [['webhook', 'checkout.session.completed to /webhooks/stripe'], ['signed with', 'Stripe-Signature (the endpoint\u2019s whsec_ secret)'],
        ['client_reference_id', token || '(none)'], ['promotion code', code || '(none)'], ['customer', 'a guest, known by email']]
      : [['webhook', 'orders/paid to /webhooks/shopify'], ['signed with', 'X-Shopify-Hmac-Sha256'],
        ['landing_site', window.location.pathname + window.location.search], ['discount code', code || '(none)'], ['customer.id', f.customer_id]];
    facts.forEach(function (p) {
      $('checkout-facts').appendChild(el('dt', { text: p[0] }));
      $('checkout-facts').appendChild(el('dd', { className: 'mono', text: p[1] }));
    });
    var stopTiming = f.bought_at ? null : startTiming($('checkout-timing'), f.clicked_at, 'pay');

    function showResult() {
      $('step-result').hidden = false;
      function poll() {
        return referral(f.customer_id).then(function (r) {
          var badge = $('referral-state');
          badge.textContent = r ? r.state : 'not referred';
          badge.className = 'badge ' + (r ? r.state : 'none');
          var text;
          if (!r) text = 'This order is not attributed to a referrer yet.';
          else if (r.state === 'rewarded') text = 'Rewarded! Dan gets ' + ((terms.referrer_reward || {}).description || 'his reward') + ' through ' + PROVIDER +
            ' and your ' + (friendReward || 'treat') + ' came off this order. Both show in the demo\u2019s ' + PROVIDER + ' records.';
          else if (r.state === 'held') text = 'Held for a person (' + reasonsText(r) + '). Approve it from the review queue on the demo page and both rewards are paid.';
          else text = 'The referral is ' + r.state + '.';
          $('result-text').textContent = text;
        }, function () { /* again on the next tick */ });
      }
      poll();
      window.setInterval(function () { if (!document.hidden) poll(); }, POLL_MS);
    }

    $('checkout-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var email = checkedEmail('checkout-email', 'checkout-email-error');
      if (!email) return;
      f.email = email;
      var typed = $('checkout-code').value.trim() || null;
      var button = $('checkout-pay');
      button.disabled = true;
      setStatus('checkout-status', null, 'Paying\u2026');
      var call = KIND === 'stripe'
        ? api('POST', '/demo/api/stripe/checkout', { email: email, token: token, code: typed })
        : api('POST', '/demo/api/shopify/order', { customer_id: f.customer_id, email: email, landing_site: window.location.pathname + window.location.search, code: typed });
      call.then(function (res) {
        if (res.status !== 200 || !res.body) throw new Error(describeError(res));
        if (res.body.status !== 200) throw new Error('/webhooks/' + KIND + ' answered ' + res.body.status + ' ' + JSON.stringify(res.body.answer));
        f.customer_id = res.body.customer_id || f.customer_id;
        f.order_id = res.body.payment_intent || res.body.order_id;
        f.signed_up_at = f.bought_at = Date.now();
        persist();
        if (stopTiming) stopTiming();
        setStatus('checkout-status', true, 'Paid: order ' + f.order_id + '. ' + PROVIDER + ' told the referral service (' + f.customer_id + ').');
        showResult();
      }).catch(function (e) {
        button.disabled = false;
        setStatus('checkout-status', false, 'The payment failed: ' + e.message);
      });
    });

    if (f.bought_at) {
      $('checkout-pay').disabled = true;
      setStatus('checkout-status', true, 'Paid: order ' + f.order_id + '.');
      showResult();
    }
  }

  // --- the sign-up page (/demo/signup) -------------------------------------------------------------

  function signupPage() {
    var params = new URLSearchParams(window.location.search);
    var token = params.get('rft');
    var code = params.get('utm_campaign');
    var s = load();
    var f = null;

    // Who is signing up: the friend the control panel sent here, else the one already playing
    // this token (a reload), else the next friend.
    if (s.playing && Date.now() - s.playing.at < 10 * 60 * 1000 && !s.friends.some(function (x) { return x.first_name === s.playing.name; })) {
      f = person(s.run, s.playing.name, s.friends.length + 1);
    } else {
      var mine = s.friends.filter(function (x) { return x.kind === 'friend' && token && x.token === token; });
      f = mine.length ? mine[mine.length - 1] : null;
      if (!f) f = person(s.run, nextFriendName(s), s.friends.length + 1);
    }
    s.playing = null;
    if (!f.kind) {
      f.kind = 'friend';
      f.token = token;
      f.code = code;
      f.clicked_at = Date.now();
      s.friends.push(f);
    }
    save(s);

    function persist() {
      var fresh = load();
      fresh.friends = fresh.friends.filter(function (x) { return x.customer_id !== f.customer_id; }).concat([f]);
      fresh.playing = null;
      save(fresh);
      s = fresh;
    }

    Array.prototype.forEach.call(document.querySelectorAll('.friend-name'), function (n) { n.textContent = f.first_name; });
    var dan = s.dan && code && s.dan.code === code.toUpperCase() ? s.dan : null;
    var friendReward = dan && dan.terms && dan.terms.friend_reward ? dan.terms.friend_reward.description : null;
    if (token || code) {
      $('referral-banner').hidden = false;
      $('offer-title').textContent = (dan ? 'Dan' : 'A friend') + ' sent you ' + (friendReward || 'a treat');
      $('offer-detail').textContent = 'Sign up and order your first box: ' + (friendReward ? 'your ' + friendReward : 'the treat') +
        ' is yours once the order is confirmed.';
      document.title = (dan ? 'Dan' : 'A friend') + ' invited you to FreshBox';
    } else {
      $('plain-title').hidden = false;
    }

    $('first-name').value = $('first-name').value || f.first_name;
    $('email').value = $('email').value || f.email;

    function facts() {
      var dl = $('signup-facts');
      dl.textContent = '';
      [['customer_id', f.customer_id], ['attribution_token', token || '(none: no referral link)'], ['code', code || '(none)'],
        ['payment card', f.card], ['device', f.phone], ['IP address', f.ip]].forEach(function (p) {
        dl.appendChild(el('dt', { text: p[0] }));
        dl.appendChild(el('dd', { className: 'mono', text: p[1] }));
      });
    }
    facts();

    var stopTiming = null;
    function showBuy() {
      $('step-buy').hidden = false;
      if (!stopTiming) stopTiming = startTiming($('timing'), f.clicked_at, 'buy');
    }

    var resultTimer = null;
    function showResult() {
      $('step-result').hidden = false;
      function poll() {
        return referral(f.customer_id).then(function (r) {
          var badge = $('referral-state');
          var st = r ? r.state : 'none';
          badge.textContent = r ? r.state : (f.bought_at ? 'not referred' : 'waiting');
          badge.className = 'badge ' + st;
          var text;
          if (!r) text = 'This account is not attributed to a referrer, so no reward applies.';
          else if (r.state === 'rewarded') text = 'Rewarded! Dan gets ' + ((((dan || s.dan || {}).terms || {}).referrer_reward || {}).description || 'his reward') + ' and you get ' + (friendReward || 'your treat') + '. The shop has applied both, and the thank-you emails are in the demo\u2019s outbox.';
          else if (r.state === 'held') text = 'Held for a person (' + reasonsText(r) + '). The referrals team has been emailed; approve it from the review queue on the demo page and both rewards are paid.';
          else if (r.state === 'pending') text = f.bought_at ? 'Checking your order\u2026' : 'Attributed to Dan. Your first order will settle it.';
          else if (r.state === 'blocked') text = 'Blocked (' + reasonsText(r) + '): this referral will never pay.';
          else text = 'The referral is ' + r.state + '.';
          $('result-text').textContent = text;
        }, function () { /* try again on the next tick */ });
      }
      poll();
      if (!resultTimer) resultTimer = window.setInterval(function () { if (!document.hidden) poll(); }, POLL_MS);
    }

    function signedUpView() {
      $('signup-form').querySelectorAll('input, button').forEach(function (n) { n.disabled = true; });
      setStatus('signup-status', true, 'Welcome to FreshBox, ' + f.first_name + '! Your account is ' + f.customer_id + '.');
      if (!f.bought_at) showBuy();
      showResult();
    }

    $('signup-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var email = checkedEmail('email', 'email-error');
      var name = $('first-name').value.trim();
      if (!email) return;
      f.email = email;
      if (name) f.first_name = name;
      var button = $('signup-submit');
      button.disabled = true;
      setStatus('signup-status', null, 'Creating your account\u2026');
      api('POST', '/demo/api/signup', signupBody(f)).then(function (res) {
        if (res.status !== 202 && res.status !== 200) throw new Error(describeError(res));
        f.signed_up_at = Date.now();
        persist();
        signedUpView();
      }).catch(function (e) {
        button.disabled = false;
        setStatus('signup-status', false, 'The sign-up failed: ' + e.message);
      });
    });

    $('buy').addEventListener('click', function () {
      var button = this;
      button.disabled = true;
      f.order_id = f.order_id || 'o_' + s.run + '_' + f.first_name.toLowerCase().replace(/[^a-z0-9]+/g, '');
      setStatus('buy-status', null, 'Paying for ' + BOX.name + '\u2026');
      // A conversion for a sign-up the attributor has not finished yet would be retried by the
      // queue; waiting for the referral first keeps the demo snappy.
      waitFor(f.customer_id, function (r) { return !!r; }, 5000).then(function () {
        return api('POST', '/demo/api/convert', convertBody(f));
      }).then(function (res) {
        if (res.status !== 202 && res.status !== 200) throw new Error(describeError(res));
        f.bought_at = Date.now();
        persist();
        if (stopTiming) stopTiming();
        setStatus('buy-status', true, 'Order ' + f.order_id + ' placed: ' + BOX.name + ', \u00a339.99. Thank you!');
        showResult();
      }).catch(function (e) {
        button.disabled = false;
        setStatus('buy-status', false, 'The order failed: ' + e.message);
      });
    });

    if (f.signed_up_at) {
      signedUpView();
      if (f.bought_at) { $('step-buy').hidden = false; $('buy').disabled = true; setStatus('buy-status', true, 'Order ' + f.order_id + ' placed.'); }
    }
  }

  var page = document.body.getAttribute('data-page');
  if (page === 'demo') controlPanel();
  else if (page === 'signup') signupPage();
  else if (page === 'checkout') checkoutPage();
})();
