// Sign-in page of the esa-connect console: posts the AccessKey pair and goes to the console.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('signin');
  const id = document.getElementById('key-id');
  const secret = document.getElementById('key-secret');
  const error = document.getElementById('signin-error');
  const submit = document.getElementById('signin-submit');
  id.focus();
  // The secret travels in this request: say so when the connection is not encrypted and leaves the host.
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname) || location.hostname.startsWith('127.');
  if (location.protocol !== 'https:' && !local) {
    const warn = document.getElementById('signin-insecure');
    warn.textContent = 'This connection is not encrypted: the AccessKey secret would cross the network in clear. Put esa-connect serve behind HTTPS.';
    warn.hidden = false;
  }
  const fail = (msg, field) => {
    error.textContent = msg;
    error.hidden = false;
    for (const el of [id, secret]) el.setAttribute('aria-invalid', String(el === field || field === null));
    (field || secret).focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!id.value.trim()) return fail('Enter the AccessKey ID.', id);
    if (!secret.value) return fail('Enter the AccessKey secret.', secret);
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const res = await fetch('/console/api/signin', {
        method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({access_key_id: id.value.trim(), access_key_secret: secret.value}),
      });
      if (res.ok) {
        location.assign('/console/');
        return;
      }
      let msg = 'Sign-in failed (' + res.status + ').';
      try {
        const body = await res.json();
        if (body && body.error && body.error.message) msg = body.error.message;
      } catch (e) { /* not JSON */ }
      msg = msg.charAt(0).toUpperCase() + msg.slice(1) + (msg.endsWith('.') ? '' : '.');
      secret.value = '';
      fail(msg, res.status === 401 ? null : secret);
    } catch (e) {
      fail('Cannot reach esa-connect serve: ' + e.message, null);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
});
