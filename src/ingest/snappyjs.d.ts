// snappyjs 0.7.0 ships no types; these cover the two functions it exports.
declare module 'snappyjs' {
  export function uncompress(compressed: Buffer, maxLength?: number): Buffer;
  export function uncompress(compressed: Uint8Array | ArrayBuffer, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Buffer): Buffer;
  export function compress(uncompressed: Uint8Array | ArrayBuffer): Uint8Array;
}
