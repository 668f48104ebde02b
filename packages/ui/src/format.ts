/** Formatting helpers for people: short ids, byte sizes, rates, durations. */

/** `0x5B38…ddC4` — enough to recognise, short enough for a table. */
export function shortHex(value: string, head = 6, tail = 4): string {
  return value.length <= head + tail + 1 ? value : `${value.slice(0, head)}…${value.slice(-tail)}`;
}

/** `16Uiu2…x9Qa` */
export function shortPeer(peerId: string): string {
  return shortHex(peerId, 6, 4);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB" */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

/** Bytes per second → "1.5 KiB/s" */
export function rate(bytesPerSecond: number): string {
  return `${bytes(Math.max(0, Math.round(bytesPerSecond)))}/s`;
}

/** 3725 → "1h 02m", 65 → "1m 05s", 5 → "5s" */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${String(h).padStart(2, '0')}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** Wei (decimal string) → "0.25 DIBS" without floating point loss for the integer part. */
export function tokenAmount(wei: string, symbol = 'DIBS'): string {
  if (wei === '0') return 'Free';
  const padded = wei.padStart(19, '0');
  const whole = padded.slice(0, -18).replace(/^0+(?=\d)/, '');
  const frac = padded.slice(-18).replace(/0+$/, '').slice(0, 4);
  return `${whole}${frac ? `.${frac}` : ''} ${symbol}`;
}

/** Unix ms → "14:03:12" (today) or "3 Mar 14:03". */
export function clock(ms: number): string {
  const d = new Date(ms);
  const sameDay = new Date().toDateString() === d.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour12: false })
    : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${d.toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit' })}`;
}

/** A smallest-unit amount (decimal string) with `decimals` → "1,250.5 DIBS", exact for any size. */
export function units(amount: string, decimals: number, symbol: string): string {
  const digits = /^\d+$/.test(amount) ? amount.replace(/^0+(?=\d)/, '') : '0';
  const padded = digits.padStart(decimals + 1, '0');
  const whole = decimals > 0 ? padded.slice(0, -decimals) : padded;
  const frac = decimals > 0 ? padded.slice(-decimals).replace(/0+$/, '').slice(0, 4) : '';
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ? `.${frac}` : ''} ${symbol}`;
}
