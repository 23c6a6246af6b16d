// The referrer's page (/me): the rewards, the link with a copy button and share buttons, the
// invite-by-email form, the tier ladder, the numbers with a 30-day chart, and their friends
// (a first name, where each stands and, where not credited, why). Plain JavaScript,
// no build step: this file is served as it is. Everything personal comes from /me/data, called
// with this page's own signed query string; the page refreshes its numbers every 15 seconds.
(function () {
  'use strict';

  var POLL_MS = 15000;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var query = window.location.search;
  var data = null;
  var inFlight = false;

  var $ = RftDom.$;
  var el = RftDom.el;

  function setText(id, text) {
    var el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text != null) node.textContent = text;
    return node;
  }

  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

  function ordinal(n) {
    var s = ['th', 'st', 'nd', 'rd'];
    var v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }

  function money(minor, currency) {
    try {
      var whole = minor % 100 === 0;
      return new Intl.NumberFormat('en-GB', {
        style: 'currency', currency: currency,
        minimumFractionDigits: whole ? 0 : 2, maximumFractionDigits: 2
      }).format(minor / 100);
    } catch (e) {
      return (minor / 100).toFixed(2) + ' ' + currency;
    }
  }

  function percent(rate) { return Math.round(rate * 100) + '%'; }

  function parseDate(iso) {
    // "2026-10-23" as a calendar day (no time zone shift).
    var p = String(iso).split('-');
    return new Date(Number(p[0]), Number(p[1]) - 1, Number(p[2]));
  }

  function shortDay(iso) {
    return parseDate(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
  }

  function longDay(iso) {
    return parseDate(iso).toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'long' });
  }

  // The link with ?ch=<channel>, so the numbers can tell where a click came from.
  function withChannel(url, channel) {
    try {
      var u = new URL(url);
      u.searchParams.set('ch', channel);
      return u.toString();
    } catch (e) {
      return url + (url.indexOf('?') < 0 ? '?' : '&') + 'ch=' + encodeURIComponent(channel);
    }
  }

  // The invite text with its link replaced by the channel-tagged link (or added if missing).
  function inviteFor(channel) {
    var tagged = withChannel(data.url, channel);
    var text = data.invite || '';
    if (text.indexOf(data.url) >= 0) return text.split(data.url).join(tagged);
    return (text ? text + ' ' : '') + tagged;
  }

  // --- rendering -------------------------------------------------------------------------------

  function renderStatic() {
    var business = data.business || 'Referrals';
    var terms = data.terms || {};
    var mine = terms.referrer_reward || {};
    var theirs = terms.friend_reward || {};
    document.title = 'Your ' + business + ' referral link';
    setText('brand', business);
    setText('brand-mark', business.charAt(0).toUpperCase());
    setText('greeting', data.first_name ? 'Hi ' + data.first_name + ', share ' + business : 'Share ' + business + ' with a friend');
    setText('subtitle', 'Give a friend ' + (theirs.description || 'a treat') + ' and get ' + (mine.description || 'a reward') + ' yourself.');
    setText('reward-you', mine.description || '');
    setText('reward-friend', theirs.description || '');
    var days = Math.round((terms.window_secs || 0) / 86400);
    setText('reward-rule', 'You both get yours when your friend places their first order' +
      (days > 0 ? ' within ' + plural(days, 'day', 'days') + ' of tapping your link.' : '.') +
      ' The more friends you bring, the more you get.');
    setText('footer-note', business + ' adds both rewards once your friend\u2019s first order is confirmed.');

    var link = $('link');
    if (link.value !== data.url) link.value = data.url;
    setText('code', data.code || '');

    var subject = (data.first_name ? data.first_name + ' sent you ' : 'Here\u2019s ') + (theirs.description || 'a treat') + ' at ' + business;
    $('share-whatsapp').href = 'https://wa.me/?text=' + encodeURIComponent(inviteFor('whatsapp'));
    $('share-sms').href = 'sms:?&body=' + encodeURIComponent(inviteFor('sms'));
    $('share-email').href = 'mailto:?subject=' + encodeURIComponent(subject) + '&body=' + encodeURIComponent(inviteFor('email'));
    $('share-whatsapp').setAttribute('aria-label', 'Share on WhatsApp (opens WhatsApp)');
    $('share-sms').setAttribute('aria-label', 'Share by text message');
    $('share-email').setAttribute('aria-label', 'Share by email');
  }

  function renderLadder() {
    var terms = data.terms || {};
    var tiers = terms.tiers || [];
    var card = $('ladder-card');
    if (!tiers.length) { card.hidden = true; return; }
    card.hidden = false;
    var pos = terms.position || {};
    var rewarded = pos.rewarded || 0;
    var next = rewarded + 1;
    var base = terms.referrer_reward || {};
    var steps = [{ from: 1, description: base.description || money(base.amount_minor || 0, base.currency || 'GBP') }]
      .concat(tiers.slice().sort(function (a, b) { return a.from - b.from; }));
    var current = 0;
    steps.forEach(function (s, i) { if (s.from <= next) current = i; });

    var list = $('ladder');
    list.textContent = '';
    steps.forEach(function (s, i) {
      var until = steps[i + 1] ? steps[i + 1].from - 1 : null;
      var label = until === null ? 'From your ' + ordinal(s.from) + ' referral'
        : until === s.from ? 'Your ' + ordinal(s.from) + ' referral'
        : until === s.from + 1 ? 'Your ' + ordinal(s.from) + ' and ' + ordinal(until) + ' referrals'
        : 'Your ' + ordinal(s.from) + ' to ' + ordinal(until) + ' referrals';
      var cls = i === current ? 'current' : (i < current ? 'reached' : '');
      var li = el('li', { className: cls }, [
        el('span', { className: 'step', text: label }),
        el('span', { className: 'amount', text: s.description })
      ]);
      if (i === current) {
        li.setAttribute('aria-current', 'step');
        li.appendChild(el('span', { className: 'visually-hidden', text: ' (your next reward)' }));
      }
      list.appendChild(li);
    });

    var nextReward = (pos.next_reward && pos.next_reward.description) || steps[current].description;
    var sentence = 'You\u2019ve had ' + plural(rewarded, 'successful referral', 'successful referrals') +
      '. Your next one earns you ' + nextReward + '.';
    if (pos.next_tier && pos.referrals_to_next_tier) {
      sentence += ' ' + plural(pos.referrals_to_next_tier, 'more successful referral', 'more successful referrals') + ' and you move up to ' + pos.next_tier.description + '.';
      var from = steps[current].from;
      var span = pos.next_tier.from - from;
      var done = Math.max(0, Math.min(span, rewarded + 1 - from));
      $('ladder-progress').hidden = false;
      $('ladder-progress-bar').style.width = Math.round((done / Math.max(span, 1)) * 100) + '%';
    } else {
      $('ladder-progress').hidden = true;
    }
    setText('ladder-position', sentence);
  }

  function renderStats() {
    var s = data.stats || {};
    var reward = (data.terms && data.terms.referrer_reward) || {};
    setText('stat-clicks', String(s.clicks || 0));
    setText('stat-signups', String(s.signups || 0));
    setText('stat-conversions', String(s.conversions || 0));
    var earned = (s.earned || []).map(function (e) { return e.formatted || money(e.amount_minor, e.currency); });
    setText('stat-earned', earned.length ? earned.join(' + ') : money(0, reward.currency || 'GBP'));

    var waiting = [];
    if (s.pending) waiting.push(plural(s.pending, 'friend has', 'friends have') + ' signed up but not ordered yet');
    if (s.held) waiting.push(plural(s.held, 'referral is', 'referrals are') + ' being checked by our team');
    $('stat-waiting').hidden = !waiting.length;
    setText('stat-waiting', waiting.length ? waiting.join('; ') + '.' : '');

    var rate = s.conversion_rate;
    var avg = s.programme_conversion_rate;
    if (rate != null) {
      var line = percent(rate) + ' of the friends who signed up with your link have ordered';
      if (avg != null) line += ' (everyone\u2019s average: ' + percent(avg) + ')';
      setText('stat-rate', line + '.');
      $('stat-rate').hidden = false;
    } else {
      $('stat-rate').hidden = true;
    }

    renderChart(s.daily || []);
    renderDays(s.daily || []);
    renderChannels(s.channels || []);
    setText('updated', 'Updated ' + new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }) + '. This page refreshes by itself.');
  }

  // A bar chart of the last 30 days: clicks as light bars, first orders as dark bars in front.
  function renderChart(daily) {
    var box = $('chart-svg');
    // Drawn at the box's own width so the labels keep their size on any screen.
    var W = Math.max(240, Math.round(box.clientWidth || 320)), H = 140, top = 8, bottom = 22, left = 1, right = 1;
    var n = Math.max(daily.length, 1);
    var max = 1;
    daily.forEach(function (d) { max = Math.max(max, d.clicks || 0, d.conversions || 0); });
    var plotH = H - top - bottom;
    var slot = (W - left - right) / n;
    var barW = Math.max(2, slot * 0.7);
    var totalClicks = 0, totalOrders = 0, best = null;
    daily.forEach(function (d) {
      totalClicks += d.clicks || 0;
      totalOrders += d.conversions || 0;
      if ((d.clicks || 0) > 0 && (!best || d.clicks > best.clicks)) best = d;
    });
    var summary = 'Last 30 days: ' + plural(totalClicks, 'click', 'clicks') + ' and ' +
      plural(totalOrders, 'first order', 'first orders') + '.' +
      (best ? ' Busiest day: ' + longDay(best.date) + ' with ' + plural(best.clicks, 'click', 'clicks') + '.' : '');

    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-labelledby': 'chart-title', 'data-testid': 'chart-svg' });
    root.appendChild(svg('title', { id: 'chart-title' }, summary));
    root.appendChild(svg('line', { x1: 0, x2: W, y1: H - bottom + 0.5, y2: H - bottom + 0.5, 'class': 'axis' }));
    daily.forEach(function (d, i) {
      var x = left + i * slot + (slot - barW) / 2;
      var g = svg('g', { 'data-date': d.date });
      g.appendChild(svg('title', {}, longDay(d.date) + ': ' + plural(d.clicks || 0, 'click', 'clicks') + ', ' + plural(d.conversions || 0, 'first order', 'first orders')));
      var ch = ((d.clicks || 0) / max) * plotH;
      var oh = ((d.conversions || 0) / max) * plotH;
      // A transparent full-height rect keeps each day hoverable even when it is empty.
      g.appendChild(svg('rect', { x: left + i * slot, y: top, width: slot, height: plotH, fill: 'transparent' }));
      if (ch > 0) g.appendChild(svg('rect', { x: x.toFixed(2), y: (H - bottom - ch).toFixed(2), width: barW.toFixed(2), height: ch.toFixed(2), rx: 1.5, 'class': 'bar-clicks' }));
      if (oh > 0) g.appendChild(svg('rect', { x: (x + barW * 0.2).toFixed(2), y: (H - bottom - oh).toFixed(2), width: (barW * 0.6).toFixed(2), height: oh.toFixed(2), rx: 1, 'class': 'bar-orders' }));
      root.appendChild(g);
    });
    if (daily.length) {
      root.appendChild(svg('text', { x: left, y: H - 5, 'class': 'tick', 'text-anchor': 'start' }, shortDay(daily[0].date)));
      root.appendChild(svg('text', { x: W - right, y: H - 5, 'class': 'tick', 'text-anchor': 'end' }, 'Today'));
    }
    box.textContent = '';
    box.appendChild(root);
    setText('chart-caption', summary);
  }

  function renderDays(daily) {
    var body = $('days');
    body.textContent = '';
    daily.slice().reverse().forEach(function (d) {
      body.appendChild(el('tr', {}, [
        el('td', { text: longDay(d.date) }),
        el('td', { className: 'num', text: String(d.clicks || 0) }),
        el('td', { className: 'num', text: String(d.conversions || 0) })
      ]));
    });
  }

  var CHANNEL_NAMES = { whatsapp: 'WhatsApp', sms: 'Text message', email: 'Email', direct: 'Link / other', invite: 'Email invite', code: 'Typed code' };

  function renderChannels(channels) {
    var list = $('channels');
    var shown = channels.filter(function (c) { return (c.clicks || 0) > 0; })
      .sort(function (a, b) { return (b.clicks || 0) - (a.clicks || 0); });
    $('channels-block').hidden = !shown.length;
    list.textContent = '';
    var max = 1;
    shown.forEach(function (c) { max = Math.max(max, c.clicks); });
    shown.forEach(function (c) {
      var name = CHANNEL_NAMES[c.channel] || (c.channel.charAt(0).toUpperCase() + c.channel.slice(1));
      var meter = el('span', { className: 'meter', 'aria-hidden': 'true' }, [el('span', { style: 'width:' + Math.round((c.clicks / max) * 100) + '%' })]);
      list.appendChild(el('li', { 'data-channel': c.channel }, [
        el('span', { text: name }),
        meter,
        el('span', { className: 'count', text: String(c.clicks), 'aria-label': plural(c.clicks, 'click', 'clicks') })
      ]));
    });
  }

  // Each friend: a first name, where they stand and, where not credited (or not yet), why.
  function renderFriends(friends) {
    var list = $('friends');
    list.textContent = '';
    $('friends-empty').hidden = friends.length > 0;
    friends.forEach(function (f) {
      list.appendChild(el('li', { 'data-status': f.status }, [
        el('div', { className: 'friend-head' }, [
          el('span', { className: 'friend-name', text: f.name }),
          el('span', { className: 'badge ' + f.status, text: f.status_words })
        ]),
        f.why && el('p', { className: 'friend-why', text: f.why })
      ]));
    });
  }

  function render() {
    renderStatic();
    renderLadder();
    renderStats();
    renderFriends(data.friends || []);
    $('loading').hidden = true;
    $('error').hidden = true;
    $('content').hidden = false;
  }

  function showError(title, message) {
    setText('error-title', title);
    setText('error-message', message);
    document.title = title;
    $('loading').hidden = true;
    $('content').hidden = true;
    $('error').hidden = false;
  }

  // --- data --------------------------------------------------------------------------------------

  function load() {
    if (inFlight) return Promise.resolve();
    inFlight = true;
    return fetch('/me/data' + query, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
      })
      .then(function (res) {
        if (res.status === 200) {
          data = res.body;
          render();
        } else if (res.status === 403) {
          stop();
          showError('This link has expired', 'For your security, links to this page stop working after a while. Ask us for a fresh one and you\u2019ll be straight back here.');
        } else if (res.status === 404) {
          stop();
          showError('No referral link yet', 'You don\u2019t have an active referral link at the moment.');
        } else if (!data) {
          showError('Something went wrong', 'We couldn\u2019t load your referral page just now. Please try again in a minute.');
        }
      })
      .catch(function () {
        if (!data) showError('You seem to be offline', 'We couldn\u2019t load your referral page. Check your connection and try again.');
        else setText('updated', 'Couldn\u2019t refresh just now; showing your last numbers.');
      })
      .then(function () { inFlight = false; });
  }

  var timer = null;
  function start() { if (!timer) timer = window.setInterval(function () { if (!document.hidden) load(); }, POLL_MS); }
  function stop() { if (timer) { window.clearInterval(timer); timer = null; } }

  document.addEventListener('visibilitychange', function () { if (!document.hidden && data) load(); });
  var lastWidth = 0;
  window.addEventListener('resize', function () {
    var w = $('chart-svg').clientWidth;
    if (data && w !== lastWidth) { lastWidth = w; renderChart((data.stats && data.stats.daily) || []); }
  });

  // --- copy --------------------------------------------------------------------------------------

  function copied(ok) {
    var status = $('copy-status');
    status.className = 'status ' + (ok ? 'ok' : 'error');
    status.textContent = ok ? 'Link copied. Paste it anywhere you like.' : 'Couldn\u2019t copy automatically: the link is selected, so copy it from there.';
    $('copy').textContent = ok ? 'Copied' : 'Copy link';
    window.clearTimeout(copied.t);
    copied.t = window.setTimeout(function () { $('copy').textContent = 'Copy link'; }, 3000);
  }

  function fallbackCopy() {
    var input = $('link');
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    copied(ok);
  }

  $('copy').addEventListener('click', function () {
    if (!data) return;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(data.url).then(function () { copied(true); }, fallbackCopy);
    } else {
      fallbackCopy();
    }
  });

  // --- invite by email ---------------------------------------------------------------------------

  function fieldError(message) {
    var input = $('friend-email');
    var err = $('friend-email-error');
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      err.textContent = message;
      err.hidden = false;
    } else {
      input.removeAttribute('aria-invalid');
      err.textContent = '';
      err.hidden = true;
    }
  }

  function inviteStatus(ok, message) {
    var status = $('invite-status');
    status.className = 'status ' + (ok ? 'ok' : 'error');
    status.textContent = message;
  }

  $('invite-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var email = $('friend-email').value.trim();
    var name = $('friend-name').value.trim();
    inviteStatus(true, '');
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      fieldError('Enter your friend\u2019s email address, like name@example.com.');
      $('friend-email').focus();
      return;
    }
    fieldError('');
    var body = { friend_email: email };
    if (name) body.friend_name = name;
    var button = $('invite-send');
    button.disabled = true;
    button.textContent = 'Sending\u2026';
    fetch('/me/invites' + query, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body)
    })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status === 202 || res.status === 200) {
          inviteStatus(true, 'Invite sent to ' + (name || email) + '. We\u2019ve let you know by email too.');
          $('invite-form').reset();
        } else if (res.status === 422 && res.body.error === 'invite_limit') {
          inviteStatus(false, 'You\u2019ve sent lots of invites today. Try again tomorrow, or share your link instead.');
        } else if (res.status === 422 || res.status === 400) {
          fieldError(res.body.message ? 'Check this address: ' + res.body.message : 'Check your friend\u2019s email address.');
          $('friend-email').focus();
        } else if (res.status === 403) {
          inviteStatus(false, 'This page\u2019s link has expired. Ask us for a fresh one to send invites.');
        } else {
          inviteStatus(false, 'We couldn\u2019t send the invite just now. Please try again in a minute.');
        }
      })
      .catch(function () { inviteStatus(false, 'We couldn\u2019t send the invite: check your connection and try again.'); })
      .then(function () {
        button.disabled = false;
        button.textContent = 'Send invite';
      });
  });

  load().then(start);
})();
