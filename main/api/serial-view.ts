/**
 * The Serial view's backend: ports (native/serial listPorts), who is on a port (identify over AT), a
 * raw console, and a DM notification sent as a WAP push SMS through the port's modem: package #0 built
 * from the server settings the way the DM server builds it, previewed (package, WSP push, SMS PDUs)
 * before anything is sent; and an OTA bootstrap (DM-4): a profile's bootstrap WBXML (main/bootstrap,
 * as the Bootstrap view checks it) in a WSP push with SEC and MAC (main/notify/ota.ts, as `dmw push
 * bootstrap` builds it), the IMSI typed or read with AT+CIMI, previewed and then sent byte for byte.
 * The serialport addon is imported only when a port is listed or opened.
 */
import { toHex } from '../notify/bytes.js';
import { parsePackage0, UI_MODES, type UiModeName } from '../notify/package0.js';
import { parseMsisdn } from '../notify/sms.js';
import { buildNotificationPush, buildWapPushSms, ConcatRefCounter } from '../notify/wap-push.js';
import { buildPackage0, type UiMode } from '../server/notifier.js';
import type { ByteLink, LineSettings } from '../../native/serial/link.js';
import type { EventName } from './channels.js';
import { buildBootstrapPush, validatePin } from '../notify/ota.js';
import { decodeWspPush } from '../notify/wsp.js';
import { checkProfile } from './bootstrap-view.js';
import type { BootstrapPushPreview, ConsoleState, EventPayload, HandsetIdentityView, PortsListing, PushPreview, PushResult, ServerSettings } from './contract.js';

type Emit = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

export interface SerialContext {
  settings(): ServerSettings;
  /** The stored server nonce of a device (base64), as the server's own notify uses it. */
  serverNonce(devId: string): Promise<string | undefined>;
}

/** How the view opens a port: the real serialport link by default, a memory link in tests. */
export type OpenLink = (path: string, settings: LineSettings) => Promise<ByteLink>;

const defaultOpenLink: OpenLink = async (path, settings) => (await import('../../native/serial/link.js')).openSerialLink(path, settings);

const MAX_LINE = 4096;
/** Bootstrap previews kept for sending (the newest ones). */
const MAX_BOOTSTRAP_PREVIEWS = 16;

export interface BootstrapPushInput {
  to: string;
  profile: Record<string, unknown>;
  sec: 'NETWPIN' | 'USERPIN' | 'USERNETWPIN' | 'USERPINMAC';
  imsi?: string | undefined;
  imsiPort?: string | undefined;
  baudRate?: number | undefined;
  pin?: string | undefined;
  userNetwPinKey?: 'imsi+pin' | 'imsi:pin' | undefined;
  ref?: number | undefined;
}

export class SerialService {
  private console: { port: string; link: ByteLink; partial: string } | undefined;
  private consoleError: string | null = null;
  private readonly refs = new ConcatRefCounter();
  private readonly bootstraps = new Map<number, { to: string; wsp: Uint8Array; ref: number; parts: PushPreview['parts'] }>();
  private nextBootstrap = 1;

  constructor(
    private readonly emit: Emit,
    private readonly ctx: SerialContext,
    private readonly openLink: OpenLink = defaultOpenLink,
  ) {}

  async ports(): Promise<PortsListing> {
    try {
      const { listPorts } = await import('../../native/serial/ports.js');
      const l = await listPorts();
      return { ports: l.ports, source: l.source, note: l.note ?? null, error: null };
    } catch (e) {
      return { ports: [], source: null, note: null, error: e instanceof Error ? e.message : String(e) };
    }
  }

  private busy(port: string): void {
    if (this.console?.port === port) throw new Error(`${port} is open in the console: close the console first`);
  }

  async identify(port: string, baudRate?: number): Promise<HandsetIdentityView> {
    this.busy(port);
    const { AtChannel } = await import('../../native/serial/at.js');
    const { identify } = await import('../../native/serial/identity.js');
    const link = await this.openLink(port, baudRate ? { baudRate } : {});
    const ch = new AtChannel(link);
    try {
      await ch.init();
      return { port, ...(await identify(ch)) };
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  consoleState(): ConsoleState {
    return { port: this.console?.port ?? null, open: this.console !== undefined, error: this.consoleError };
  }

  async consoleOpen(port: string, baudRate?: number): Promise<ConsoleState> {
    if (this.console) await this.consoleClose();
    const link = await this.openLink(port, baudRate ? { baudRate } : {});
    const c = { port, link, partial: '' };
    this.console = c;
    this.consoleError = null;
    link.on('data', (chunk) => {
      const text = c.partial + Buffer.from(chunk).toString('latin1');
      const parts = text.split(/\r\n|\r|\n/);
      c.partial = parts.pop() ?? '';
      if (c.partial.length > MAX_LINE) {
        parts.push(c.partial);
        c.partial = '';
      }
      if (parts.length) this.emit('serial.console', { port, lines: parts, closed: null });
    });
    link.once('close', (err) => {
      if (this.console !== c) return;
      this.console = undefined;
      this.consoleError = err ? err.message : null;
      this.emit('serial.console', { port, lines: c.partial ? [c.partial] : [], closed: err ? err.message : 'closed' });
    });
    return this.consoleState();
  }

  async consoleClose(): Promise<ConsoleState> {
    const c = this.console;
    this.console = undefined;
    if (c) {
      await c.link.close().catch(() => undefined);
      this.emit('serial.console', { port: c.port, lines: c.partial ? [c.partial] : [], closed: 'closed' });
    }
    return this.consoleState();
  }

  async consoleSend(line: string): Promise<ConsoleState> {
    if (!this.console) throw new Error('no console is open');
    await this.console.link.write(`${line}\r`);
    return this.consoleState();
  }

  /** Package #0 (server settings), its WSP push and the SMS PDUs; nothing is sent. */
  async preview(p: { to: string; devId?: string | undefined; sessionId?: number | undefined; uiMode: UiModeName; ref?: number | undefined }): Promise<PushPreview> {
    try {
      parseMsisdn(p.to);
    } catch (e) {
      throw new Error(e instanceof Error ? e.message : String(e));
    }
    const st = this.ctx.settings();
    const sessionId = p.sessionId ?? 1 + Math.floor(Math.random() * 0xfffe);
    const ref = p.ref ?? this.refs.take();
    const nonce = p.devId ? await this.ctx.serverNonce(p.devId) : undefined;
    const pkg0 = buildPackage0({
      serverId: st.serverId, sessionId, uiMode: UI_MODES.indexOf(p.uiMode) as UiMode, initiator: 1,
      serverCred: st.serverCred ?? { name: st.serverId, secret: '' }, ...(nonce ? { serverNonce: nonce } : {}),
    });
    const parsed = parsePackage0(pkg0);
    const wsp = buildNotificationPush(pkg0);
    const parts = buildWapPushSms({ to: p.to, wsp, ref });
    const warnings = parsed.ok ? [...parsed.value.warnings] : [`package #0 does not parse back: ${parsed.error.message}`];
    if (!st.serverCred) warnings.push('no server credential in the Server settings: the digest uses an empty secret');
    return {
      to: p.to, serverId: st.serverId, sessionId, sessionIdHex: parsed.ok ? parsed.value.sessionIdHex : sessionId.toString(16).toUpperCase(), uiMode: p.uiMode, ref,
      package0Hex: toHex(pkg0), wspHex: toHex(wsp), parts, warnings,
    };
  }

  async send(p: { port: string; baudRate?: number | undefined; to: string; devId?: string | undefined; sessionId: number; uiMode: UiModeName; ref: number }): Promise<PushResult> {
    this.busy(p.port);
    const pv = await this.preview(p);
    const { fromHex } = await import('../notify/bytes.js');
    return this.pushOut(p.port, p.baudRate, p.to, fromHex(pv.wspHex)!, p.ref, pv.parts);
  }

  /** Reads the IMSI with AT+CIMI on a port (shared with `dmw push bootstrap --imsi-port`). */
  private async imsiFrom(port: string, baudRate: number | undefined): Promise<string> {
    this.busy(port);
    const { AtChannel } = await import('../../native/serial/at.js');
    const { readImsi } = await import('../../native/serial/identity.js');
    const link = await this.openLink(port, baudRate ? { baudRate } : {});
    const ch = new AtChannel(link);
    try {
      await ch.init();
      const r = await readImsi(ch);
      if (!r.ok) throw new Error(`imsi: cannot read it on ${port}: ${r.error}`);
      return r.imsi;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /**
   * The profile's bootstrap WBXML (checked as the Bootstrap view checks it) in a WSP push with SEC and
   * MAC, and its SMS PDUs; kept under previewId so bootstrapSend sends these very bytes.
   */
  async bootstrapPreview(p: BootstrapPushInput): Promise<BootstrapPushPreview> {
    try {
      parseMsisdn(p.to);
    } catch (e) {
      throw new Error(`to: ${e instanceof Error ? e.message : String(e)}`);
    }
    const checked = checkProfile(p.profile);
    if (!checked.wbxml) throw new Error(`profile: ${checked.check.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'does not build'}`);
    const needsImsi = p.sec === 'NETWPIN' || p.sec === 'USERNETWPIN';
    const needsPin = p.sec !== 'NETWPIN';
    if (needsPin && !p.pin?.trim()) throw new Error(`pin: is required for SEC=${p.sec}`);
    if (!needsPin && p.pin?.trim()) throw new Error('pin: not used by NETWPIN (the key is the IMSI)');
    if (p.userNetwPinKey !== undefined && p.sec !== 'USERNETWPIN') throw new Error('userNetwPinKey: only applies to SEC=USERNETWPIN');
    let imsi: string | undefined;
    let imsiSource: string | null = null;
    if (needsImsi) {
      if (p.imsi?.trim()) {
        imsi = p.imsi.trim();
        imsiSource = 'typed';
      } else if (p.imsiPort) {
        // Checked before the port is touched: a bad PIN should not cost an AT exchange.
        if (p.pin !== undefined) validatePin(p.pin);
        imsi = await this.imsiFrom(p.imsiPort, p.baudRate);
        imsiSource = `AT+CIMI on ${p.imsiPort}`;
      } else throw new Error(`imsi: is required for SEC=${p.sec} (type it, or read it over AT from a port)`);
    }
    const variant = p.sec === 'USERNETWPIN' ? (p.userNetwPinKey ?? 'imsi+pin') : undefined;
    // Invalid IMSI / PIN: InvalidInput, whose message starts with the field ("imsi: ...", "pin: ...").
    const b = buildBootstrapPush(checked.wbxml, { sec: p.sec, ...(imsi !== undefined ? { imsi } : {}), ...(needsPin ? { pin: p.pin! } : {}), ...(variant ? { userNetwPinKey: variant } : {}) });
    const w = decodeWspPush(b.wsp);
    if (!w.ok) throw new Error(`the bootstrap push does not decode back: ${w.error.message}`);
    const ref = p.ref ?? this.refs.take();
    const parts = buildWapPushSms({ to: p.to, wsp: b.wsp, ref });
    const previewId = this.nextBootstrap++;
    this.bootstraps.set(previewId, { to: p.to, wsp: b.wsp, ref, parts });
    for (const k of this.bootstraps.keys()) if (this.bootstraps.size > MAX_BOOTSTRAP_PREVIEWS) this.bootstraps.delete(k);
    return {
      previewId, to: p.to, sec: p.sec, ref, wbxmlBytes: checked.wbxml.length,
      contentType: w.value.contentType, params: w.value.params, appId: w.value.appId ?? null,
      mac: b.mac, keyDescription: b.keyDescription, userNetwPinKey: variant ?? null, userPin: b.userPin ?? null,
      imsi: imsi ?? null, imsiSource, wspHex: toHex(b.wsp), parts, notes: b.notes,
    };
  }

  /** Sends a bootstrap preview's WSP push with its concatenation reference: the previewed PDUs. */
  async bootstrapSend(p: { previewId: number; port: string; baudRate?: number | undefined }): Promise<PushResult> {
    const pv = this.bootstraps.get(p.previewId);
    if (!pv) throw new Error(`previewId: no bootstrap preview ${p.previewId} (preview again)`);
    this.busy(p.port);
    return this.pushOut(p.port, p.baudRate, pv.to, pv.wsp, pv.ref, pv.parts);
  }

  private async pushOut(port: string, baudRate: number | undefined, to: string, wsp: Uint8Array, ref: number, parts: PushPreview['parts']): Promise<PushResult> {
    const p = { port, baudRate, to, ref };
    const { AtChannel } = await import('../../native/serial/at.js');
    const { ModemSmsTransport } = await import('../../native/serial/modem-sms.js');
    const { pushWsp } = await import('../notify/notifier.js');
    const transcript: string[] = parts.map((x) => `part ${x.seq}/${x.total} PDU (TPDU ${x.tpduLength} octets): ${x.pduHex}`);
    const link = await this.openLink(p.port, p.baudRate ? { baudRate: p.baudRate } : {});
    const ch = new AtChannel(link);
    ch.on('trace', (dir, text) => transcript.push(`${dir === 'tx' ? '>' : dir === 'rx' ? '<' : '#'} ${text}`));
    try {
      await ch.init();
      const report = await pushWsp(new ModemSmsTransport(ch), p.to, wsp, { refs: new ConcatRefCounter(p.ref) });
      return {
        ok: report.ok, detail: report.detail, transcript,
        parts: report.parts.map((r) => ({ seq: r.seq, total: r.total, status: r.status, ...(r.messageRef !== undefined ? { messageRef: r.messageRef } : {}), ...(r.error ? { error: r.error } : {}) })),
      };
    } catch (e) {
      return { ok: false, detail: `${p.port}: ${e instanceof Error ? e.message : String(e)}`, parts: [], transcript };
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.consoleClose();
  }
}
