/**
 * A session's sequence diagram as inline SVG for the HTML report: a device lane and a server lane,
 * one arrow per message (device -> server for what the server received), labelled with its number,
 * MsgID and commands. Plain markup, no script, no external reference; every label escaped.
 */
import { escapeAttr, escapeText, oneLine } from './escape.js';
import type { DiagramMessage } from './evidence.js';

const WIDTH = 820;
const DEVICE_X = 170;
const SERVER_X = 700;
const HEAD = 40;
const ROW = 40;
const LABEL_MAX = 86;

export function messageLabel(m: DiagramMessage): string {
  return `#${m.seq} · MsgID ${m.msgId ?? '?'} · ${m.commands}${m.final === false ? ' (more)' : ''}`;
}

function arrow(m: DiagramMessage, y: number): string {
  const toServer = m.direction === 'in';
  const [x1, x2] = toServer ? [DEVICE_X, SERVER_X] : [SERVER_X, DEVICE_X];
  const tip = toServer ? x2 - 9 : x2 + 9;
  const cls = toServer ? 'in' : 'out';
  const label = messageLabel(m);
  const mid = (DEVICE_X + SERVER_X) / 2;
  return [
    `<g class="msg ${cls}" data-seq="${m.seq}">`,
    `<title>${escapeText(`${toServer ? 'device → server' : 'server → device'}: ${label} · ${m.size} bytes · +${m.offsetMs} ms`)}</title>`,
    `<text class="t" x="8" y="${y - 4}">+${m.offsetMs} ms</text>`,
    `<text class="t" x="8" y="${y + 10}">${m.size} B</text>`,
    `<line x1="${x1}" y1="${y}" x2="${tip}" y2="${y}"${m.final === false ? ' stroke-dasharray="6 4"' : ''}/>`,
    `<polygon points="${x2},${y} ${tip},${y - 5} ${tip},${y + 5}"/>`,
    `<text class="l" x="${mid}" y="${y - 7}" text-anchor="middle">${escapeText(oneLine(label, LABEL_MAX))}</text>`,
    '</g>',
  ].join('');
}

export function sequenceSvg(messages: readonly DiagramMessage[], caption: string): string {
  const height = HEAD + Math.max(1, messages.length) * ROW + 10;
  const rows = messages.map((m, i) => arrow(m, HEAD + i * ROW + 26));
  const empty = messages.length === 0 ? `<text class="t" x="${(DEVICE_X + SERVER_X) / 2}" y="${HEAD + 24}" text-anchor="middle">no messages</text>` : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="seq" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeAttr(caption)}">`,
    `<text class="lane" x="${DEVICE_X}" y="18" text-anchor="middle">Device</text>`,
    `<text class="lane" x="${SERVER_X}" y="18" text-anchor="middle">Server</text>`,
    `<line class="lifeline" x1="${DEVICE_X}" y1="26" x2="${DEVICE_X}" y2="${height - 4}"/>`,
    `<line class="lifeline" x1="${SERVER_X}" y1="26" x2="${SERVER_X}" y2="${height - 4}"/>`,
    ...rows,
    empty,
    '</svg>',
  ].join('\n');
}
