// The simulator's seeded randomness: the crowd and the chaos schedule both draw from it, so a seed replays a run.

// mulberry32, hand-written: six lines give a seedable, reproducible stream (Math.random cannot be seeded), so a
// dependency would buy nothing. Statistical quality is ample for shuffling buyers and picking faults.
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBelow(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** FNV-1a of the text mapped onto [0, 1): a stable, seedable coin per user. */
export function shareOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash / 2 ** 32;
}
