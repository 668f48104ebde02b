/**
 * The login page the provider shows during an interaction: it names the application, asks the
 * browser wallet (EIP-1193) for an account, has the provider write the SIWE message, asks the wallet
 * to sign it, and follows the provider's answer. No framework and no inline script (the script is
 * served from the provider's own origin, so a strict Content-Security-Policy applies).
 */

/** What the page shows. */
export interface LoginPageModel {
  uid: string;
  clientName: string;
  serviceName: string;
  serviceId: string;
  chainId: number;
  /** What the user's own DIBS node is told to approve (`dibs login approve <url>`). */
  approveUrl: string;
}

const escapeMap: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => escapeMap[c]!);

/** Content-Security-Policy of the login page. */
export const LOGIN_PAGE_CSP =
  "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The login page HTML. */
export function loginPage(m: LoginPageModel): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in with DIBS</title>
<style>
body{font-family:system-ui,sans-serif;background:#0f1115;color:#e8e8ea;display:flex;justify-content:center;padding:4rem 1rem;margin:0}
main{max-width:26rem;width:100%;background:#181b22;border-radius:12px;padding:2rem;box-shadow:0 2px 16px #0006}
h1{font-size:1.3rem;margin:0 0 .5rem}p{color:#b5b8c0;line-height:1.45}
button{display:block;width:100%;padding:.8rem;margin:.6rem 0;border:0;border-radius:8px;font-size:1rem;cursor:pointer}
#signin{background:#4f7cff;color:#fff}#node{background:#2a2e38;color:#e8e8ea}#cancel{background:#2a2e38;color:#e8e8ea}#request{background:#3fb37f;color:#fff}
#status{min-height:1.5rem;color:#ffcf5c}code{color:#9fc1ff}
</style></head>
<body><main data-uid="${escapeHtml(m.uid)}" data-chain-id="${m.chainId}">
<h1>Sign in to ${escapeHtml(m.clientName)}</h1>
<p>${escapeHtml(m.serviceName)} (login service ${escapeHtml(m.serviceId)}) asks you to sign in with your wallet. It learns your
address, your DID and your organizations — and only if your wallet holds a grant for it on chain.</p>
<button id="signin" type="button">Sign in with wallet</button>
<button id="request" type="button" hidden>Request access on chain</button>
<button id="node" type="button">Approve with my DIBS node</button>
<p id="node-help" hidden>No browser wallet? Run this where your DIBS node runs; this page continues by itself:<br>
<code>dibs login approve ${escapeHtml(m.approveUrl)}</code></p>
<button id="cancel" type="button">Cancel</button>
<p id="status" role="status"></p>
</main><script src="/interaction-assets/login.js"></script></body></html>`;
}

/** The provider's error page (bad redirect URI, unknown client, expired login…). */
export function errorPage(error: string, description: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in with DIBS: ${escapeHtml(error)}</title></head>
<body style="font-family:system-ui,sans-serif;padding:3rem"><h1>Sign-in failed</h1>
<p><code>${escapeHtml(error)}</code>: ${escapeHtml(description)}</p>
<p>Go back to the application and start again; if it keeps failing, tell its owner.</p></body></html>`;
}

/** The page script: EIP-1193 account, SIWE message from the provider, personal_sign, post, follow. */
export const LOGIN_SCRIPT = `'use strict';
(() => {
  const main = document.querySelector('main');
  const uid = main.dataset.uid;
  const status = document.getElementById('status');
  const say = (text) => { status.textContent = text; };
  const base = '/interaction/' + encodeURIComponent(uid);
  const post = async (path, body) => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    const json = await res.json().catch(() => ({}));
    if (!res.ok && !json.redirectTo) throw new Error(json.error_description || ('HTTP ' + res.status));
    return json;
  };
  const follow = (answer) => {
    if (answer.redirectTo) { window.location.assign(answer.redirectTo); return true; }
    return false;
  };
  let pendingRequest;
  const toHex = (text) => '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');
  document.getElementById('signin').addEventListener('click', async () => {
    try {
      const eth = window.ethereum;
      if (!eth) { say('No browser wallet found. Install one, or approve from your DIBS node.'); return; }
      say('Connecting your wallet…');
      const [address] = await eth.request({ method: 'eth_requestAccounts' });
      if (!address) throw new Error('the wallet gave no account');
      const res = await fetch(base + '/siwe?address=' + encodeURIComponent(address));
      const { message, error_description } = await res.json();
      if (!res.ok) throw new Error(error_description);
      say('Sign the message in your wallet…');
      const signature = await eth.request({ method: 'personal_sign', params: [toHex(message), address] });
      say('Checking your grant on chain…');
      const answer = await post('/siwe', { message, signature });
      if (follow(answer)) return;
      if (answer.status === 'grant_required') {
        pendingRequest = answer.request;
        document.getElementById('request').hidden = false;
        say(answer.message);
      }
    } catch (err) { say('Sign-in failed: ' + (err && err.message ? err.message : err)); }
  });
  document.getElementById('request').addEventListener('click', async () => {
    try {
      const eth = window.ethereum;
      const [from] = await eth.request({ method: 'eth_requestAccounts' });
      say('Confirm the access request in your wallet…');
      await eth.request({ method: 'eth_sendTransaction', params: [{ from, to: pendingRequest.to, data: pendingRequest.data }] });
      say('Waiting for the grant on chain…');
      for (let i = 0; i < 60; i++) {
        const answer = await post('/continue');
        if (follow(answer)) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
      say('The grant did not show up on chain in time; try again.');
    } catch (err) { say('Request failed: ' + (err && err.message ? err.message : err)); }
  });
  document.getElementById('node').addEventListener('click', async () => {
    document.getElementById('node-help').hidden = false;
    say('Waiting for your node to approve…');
    for (let i = 0; i < 600; i++) {
      try {
        const res = await fetch(base + '/status');
        const answer = await res.json();
        if (follow(answer)) return;
        if (!res.ok) { say(answer.error_description || 'This login has ended; start again.'); return; }
      } catch (err) { /* keep waiting */ }
      await new Promise((r) => setTimeout(r, 1000));
    }
    say('No approval arrived; start again.');
  });
  document.getElementById('cancel').addEventListener('click', async () => {
    try { follow(await post('/abort')); } catch (err) { say(String(err.message || err)); }
  });
})();
`;
