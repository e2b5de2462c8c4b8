// As-you-type check of a new project's address (slug) on the sign-up page and in the company console.
// The server checks the same again on submit; this only tells people early. No inline script (CSP).
(function () {
  'use strict';
  document.querySelectorAll('input[data-slug-check]').forEach(function (input) {
    var form = input.form;
    var status = form.querySelector('#slug-status');
    var host = form.querySelector('[data-slug-host]');
    var timer = null;
    var latest = 0;
    function check() {
      var slug = input.value;
      if (host) { host.textContent = slug || 'sunshine'; }
      if (!slug) { status.textContent = ''; return; }
      var ticket = ++latest;
      fetch(input.dataset.slugCheck + '?slug=' + encodeURIComponent(slug), {credentials: 'same-origin'})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (ticket !== latest || !body) { return; }
          status.textContent = body.ok ? '✓ ' + body.host + ' ' + body.message : body.message;
          status.className = body.ok ? 'hint' : 'error';
          input.setAttribute('aria-invalid', body.ok ? 'false' : 'true');
        })
        .catch(function () { /* offline or throttled: the server checks again on submit */ });
    }
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    });
  });
}());
