/**
 * Bootstrap (DM-3 smart card, DM-4 OTA): profiles, the bootstrap message, the PKCS#15 card layout,
 * flashing with read-compare-write, and diffs. No native code: the card side runs over any
 * `ApduTransport` (pcsclite in native/pcsc, the virtual UICC, a fake in tests).
 *
 * For the app's card view: `Pkcs15Card.writeBootstrap(..., { onProgress })` reports FlashProgress
 * phases with byte counts; a CardChannel's `onTrace` gives the APDU trace (PINs masked);
 * native/pcsc's PcscMonitor emits reader-added/removed and card-inserted/removed.
 */
export * from './profile.js';
export * from './message.js';
export * from './pkcs15.js';
export * from './card.js';
export * from './diff.js';
export * from './store.js';
