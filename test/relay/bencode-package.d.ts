// The third-party bencode implementation the ng codec is fuzzed against (npm `bencode`, which ships no types).
declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array, encoding?: string): unknown;
  };
  export default bencode;
}
