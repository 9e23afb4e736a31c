import { useMemo } from 'react';

const MAX_BYTES = 256 * 1024;

export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Classic 16-bytes-a-line dump: offset, hex, printable ASCII. */
export function hexDump(bytes: Uint8Array, max = MAX_BYTES): string {
  const n = Math.min(bytes.length, max);
  const lines: string[] = [];
  for (let off = 0; off < n; off += 16) {
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      const b = bytes[off + i];
      if (off + i < n && b !== undefined) {
        hex += b.toString(16).padStart(2, '0').toUpperCase() + (i === 7 ? '  ' : ' ');
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else hex += i === 7 ? '    ' : '   ';
    }
    lines.push(`${off.toString(16).padStart(6, '0').toUpperCase()}  ${hex} ${ascii}`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes (export the session for all of them)`);
  return lines.join('\n');
}

export function HexView({ base64 }: { base64: string }) {
  const text = useMemo(() => hexDump(fromBase64(base64)), [base64]);
  return <pre className="code-block" data-testid="hex-view">{text}</pre>;
}
