// The console's sign-in page: asks for a team address and requests a sign-in link. The answer
// is the same for any address, so the page says the same whatever it was.
(function () {
  'use strict';
  var $ = RftDom.$;

  function fieldError(message) {
    var input = $('login-email');
    var err = $('login-email-error');
    if (message) { input.setAttribute('aria-invalid', 'true'); err.textContent = message; err.hidden = false; }
    else { input.removeAttribute('aria-invalid'); err.textContent = ''; err.hidden = true; }
  }

  function status(ok, message) {
    var s = $('login-status');
    s.className = 'status ' + (ok ? 'ok' : 'error');
    s.textContent = message;
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var email = $('login-email').value.trim();
    status(true, '');
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
      fieldError('Enter your email address, like name@example.com.');
      $('login-email').focus();
      return;
    }
    fieldError('');
    var button = $('login-send');
    button.disabled = true;
    fetch('/admin/login', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ email: email })
    })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status === 202) status(true, 'Check your inbox: if that address belongs to the team, a sign-in link is on its way.');
        else if (res.status === 429) status(false, 'Too many sign-in requests. Wait 15 minutes and try again.');
        else if (res.status === 422) fieldError('Check this address: ' + (res.body.message || 'it is not an email address'));
        else status(false, 'Something went wrong. Please try again in a minute.');
      })
      .catch(function () { status(false, 'You seem to be offline. Check your connection and try again.'); })
      .then(function () { button.disabled = false; });
  });
})();
