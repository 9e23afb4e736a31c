/** A capture file that cannot be read: what is wrong and where (byte offset in the file). */
export class CaptureError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}
