// The ops queue (/ops): held referrals and referrals flagged for refund review, with their
// evidence and the two-step approve and reject links (each opens the server-rendered confirm
// page; nothing changes until its button is pressed). Plain JavaScript, served as it is; the data
// comes from /ops/data with this page's own signed query string, refreshed every 30 seconds.
(function () {
  'use strict';

  var POLL_MS = 30000;
  var query = window.location.search;
  var loaded = false;
  var inFlight = false;

  var $ = RftDom.$;
  var el = RftDom.el;

  function when(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  var METHODS = { token: 'a click on the link', code: 'a code typed at sign-up', email: 'an email invite', fingerprint: 'the same browser (fallback)', manual: 'a team member, by hand' };
  var REASONS = {
    self_referral: 'the referrer referred themselves',
    same_payment_and_device: 'same card and device as the referrer',
    identity_match: 'shares an identity with the referrer',
    code_click_velocity: 'many clicks on the code',
    code_signup_velocity: 'many sign-ups through the code',
    ip_signup_velocity: 'many sign-ups from one IP',
    disposable_email: 'disposable email address',
    fingerprint_match: 'matched by browser only',
    quick_conversion: 'first order seconds after the click'
  };

  function humanise(s) { return String(s).replace(/_/g, ' '); }

  function row(term, value, testid) {
    var dd = el('dd', testid ? { 'data-testid': testid } : null, [value]);
    return [el('dt', { text: term }), dd];
  }

  function caseCard(c, kind) {
    var id = c.referral_id;
    var headingId = 'case-' + id;
    var conversion = c.conversion
      ? 'Order ' + c.conversion.order_id + ', ' + c.conversion.amount + ', ' + when(c.conversion.occurred_at)
      : 'Not yet';
    var dl = el('dl', { className: 'case' }, []
      .concat(row('Referrer', c.referrer_id + ' (code ' + c.code + ')'))
      .concat(row('Referred customer', c.referred_id))
      .concat(row('State', el('span', { className: 'badge ' + c.state, text: c.state }), 'case-state'))
      .concat(row('Attributed by', METHODS[c.method] || humanise(c.method || '')))
      .concat(row('First order', conversion))
      .concat(row('Opened', when(c.created_at)))
      .concat(row('Last change', when(c.updated_at))));

    var reasons = (c.reasons || []);
    var chips = reasons.length ? el('ul', { className: 'reasons', 'aria-label': 'Rules that fired' },
      reasons.map(function (r) { return el('li', { className: 'chip', 'data-reason': r, text: REASONS[r] || humanise(r) }); })) : null;

    var evidence = (c.evidence || []);
    var evList = evidence.length
      ? el('ul', { className: 'evidence' }, evidence.map(function (e) {
        return el('li', {}, [
          el('strong', { text: humanise(e.rule) }),
          e.outcome ? el('span', { className: 'outcome', text: ' (' + humanise(e.outcome) + ')' }) : null,
          e.detail ? ': ' + e.detail : ''
        ]);
      }))
      : el('p', { className: 'hint', text: kind === 'refund' ? 'The converting order was refunded after the reward.' : 'No rule details were recorded.' });

    var approveLabel = kind === 'refund' ? 'Approve (keep rewards)' : 'Approve';
    var rejectLabel = kind === 'refund' ? 'Reject (disputed)' : 'Reject';
    var actions = el('div', { className: 'actions' }, [
      el('a', { className: 'btn approve', href: c.approve_url, 'data-testid': 'approve', 'aria-describedby': headingId, text: approveLabel }),
      el('a', { className: 'btn reject', href: c.reject_url, 'data-testid': 'reject', 'aria-describedby': headingId, text: rejectLabel })
    ]);

    return el('article', { className: 'card case-card', 'data-testid': 'case', 'data-referral-id': id, 'data-referred-id': c.referred_id, 'aria-labelledby': headingId }, [
      el('h3', { id: headingId, text: c.referrer_id + ' \u2192 ' + c.referred_id }),
      el('p', { className: 'meta' }, ['Referral ', el('span', { className: 'mono', text: id })]),
      refundNote(c, kind),
      chips,
      dl,
      el('h4', { className: 'evidence-heading', text: 'Why it is here' }),
      evList,
      actions
    ]);
  }

  // A refund of the converting order, shown beside the decision: after a reward a person decides
  // whether it stands; while held, approving cannot pay.
  function refundNote(c, kind) {
    if (!c.refund && kind !== 'refund') return null;
    var order = c.refund ? 'Order ' + c.refund.order_id + ' was refunded (' + when(c.refund.at) + ')' : 'The converting order was refunded';
    var text = kind === 'refund' ? order + ', after the reward.' : order + ': approving cannot pay this referral.';
    return el('p', { className: 'flag', 'data-testid': 'refund', text: text });
  }

  function renderList(listId, countId, cases, kind, emptyText) {
    var list = $(listId);
    list.textContent = '';
    $(countId).textContent = String(cases.length);
    if (!cases.length) {
      list.appendChild(el('p', { className: 'empty', text: emptyText }));
      return;
    }
    cases.forEach(function (c) { list.appendChild(caseCard(c, kind)); });
  }

  function flaggedCard(c) {
    var headingId = 'code-' + c.code;
    var evidence = (c.evidence || []);
    return el('article', { className: 'card case-card', 'data-testid': 'flagged-code', 'data-code': c.code, 'aria-labelledby': headingId }, [
      el('h3', { id: headingId, text: 'Code ' + c.code + ' (' + c.referrer_id + ')' }),
      el('p', { className: 'meta', text: 'Flagged ' + when(c.flagged_at) }),
      el('ul', { className: 'evidence' }, evidence.map(function (e) {
        return el('li', {}, [el('strong', { text: humanise(e.rule) }), e.detail ? ': ' + e.detail : '']);
      })),
      el('div', { className: 'actions' }, [
        el('a', { className: 'btn approve', href: c.clear_url, 'data-testid': 'clear', 'aria-describedby': headingId, text: 'Clear the flag' }),
        el('a', { className: 'btn reject', href: c.retire_url, 'data-testid': 'retire', 'aria-describedby': headingId, text: 'Retire the code' })
      ])
    ]);
  }

  function renderFlagged(codes) {
    var list = $('flagged-list');
    list.textContent = '';
    $('flagged-count').textContent = String(codes.length);
    if (!codes.length) {
      list.appendChild(el('p', { className: 'empty', text: 'No code is flagged.' }));
      return;
    }
    codes.forEach(function (c) { list.appendChild(flaggedCard(c)); });
  }

  function render(data) {
    var business = data.business || 'Referrals';
    $('brand').textContent = business;
    $('brand-mark').textContent = business.charAt(0).toUpperCase();
    var total = (data.held || []).length + (data.refund_review || []).length + (data.flagged_codes || []).length;
    document.title = (total ? '(' + total + ') ' : '') + business + ' referrals to review';
    renderList('held-list', 'held-count', data.held || [], 'held', 'Nothing is held. New holds arrive here and by email.');
    renderList('refund-list', 'refund-count', data.refund_review || [], 'refund', 'No refunds to review.');
    renderFlagged(data.flagged_codes || []);
    $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' }) + '.';
    $('loading').hidden = true;
    $('error').hidden = true;
    $('content').hidden = false;
    loaded = true;
  }

  function showError(title, message) {
    $('error-title').textContent = title;
    $('error-message').textContent = message;
    $('loading').hidden = true;
    $('content').hidden = true;
    $('error').hidden = false;
  }

  function load() {
    if (inFlight) return Promise.resolve();
    inFlight = true;
    return fetch('/ops/data' + query, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status === 200) render(res.body);
        else if (res.status === 403) { stop(); showError('This link has expired', 'Links to the review queue stop working after a while. Ask for a fresh one.'); }
        else if (!loaded) showError('Something went wrong', 'The queue could not be loaded just now. Try again in a minute.');
      })
      .catch(function () {
        if (!loaded) showError('You seem to be offline', 'The queue could not be loaded. Check your connection and try again.');
        else $('updated').textContent = 'Couldn\u2019t refresh just now; showing the last queue.';
      })
      .then(function () { inFlight = false; });
  }

  var timer = null;
  function start() { if (!timer) timer = window.setInterval(function () { if (!document.hidden) load(); }, POLL_MS); }
  function stop() { if (timer) { window.clearInterval(timer); timer = null; } }

  $('refresh').addEventListener('click', function () { load(); });
  document.addEventListener('visibilitychange', function () { if (!document.hidden && loaded) load(); });
  // Coming back from a confirm page with the back button shows the fresh queue.
  window.addEventListener('pageshow', function (ev) { if (ev.persisted) load(); });

  load().then(start);
})();
