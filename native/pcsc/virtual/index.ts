/**
 * The virtual UICC for vsmartcard's vpcd: card image (JSON), the ISO 7816-4 card, the vpcd client,
 * and `startEmulator`, which ties them together with the image saved after every change.
 * Plain TypeScript: nothing here loads a native addon.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ImageError, blankUicc, imageFromJson, imageToJson, type CardImage } from './image.js';
import { VirtualUicc } from './uicc.js';
import { VpcdCardClient, type VpcdClientOptions } from './vpcd.js';

export * from './image.js';
export * from './uicc.js';
export * from './vpcd.js';

export function loadImageFile(file: string): CardImage {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ImageError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ImageError(`${file}: not JSON: ${(e as Error).message}`);
  }
  try {
    return imageFromJson(json);
  } catch (e) {
    throw new ImageError(`${file}: ${(e as Error).message}`);
  }
}

/** Write atomically (temp file + rename) so a crash never leaves half an image. */
export function saveImageFile(file: string, image: CardImage): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(imageToJson(image), null, 2)}\n`);
  renameSync(tmp, file);
}

export interface EmulatorOptions extends VpcdClientOptions {
  /** Card image file: loaded when it exists, created from a blank UICC otherwise, saved on every change. */
  imageFile?: string;
  /** Used when no image file is given (or it does not exist yet). */
  image?: CardImage;
}

export interface Emulator {
  card: VirtualUicc;
  client: VpcdCardClient;
  stop(): void;
}

export function startEmulator(opts: EmulatorOptions = {}): Emulator {
  const file = opts.imageFile;
  const image = file && existsSync(file) ? loadImageFile(file) : (opts.image ?? blankUicc());
  const card = new VirtualUicc(image);
  if (file) {
    saveImageFile(file, image);
    card.onChange = () => saveImageFile(file, image);
  }
  const client = new VpcdCardClient(card, opts);
  client.insert();
  return {
    card,
    client,
    stop: () => client.remove('emulator stopped'),
  };
}
