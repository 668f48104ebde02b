/** The example app's browser script: "Sign in with DIBS" and a call to the DIBS-protected API. */
import { callDibsApi, signInWithDibs } from '@dibs/sdk/browser';

document.getElementById('signin')?.addEventListener('click', () => signInWithDibs('/login'));

document.getElementById('call-api')?.addEventListener('click', async () => {
  const out = document.getElementById('api')!;
  const idToken = document.body.dataset.idToken ?? '';
  try {
    out.textContent = JSON.stringify(await callDibsApi('/api/me', idToken), null, 2);
  } catch (err) {
    out.textContent = `API refused: ${(err as Error).message}`;
  }
});
