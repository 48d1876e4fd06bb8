/**
 * The static-stride scheduler of gRFC A58 (grpc-go's and grpc-core's weighted round robin): a
 * deterministic weighted round robin whose pick cost does not grow with the number of backends.
 *
 * Weights are clamped to [mean / 10, mean * 10] (so that one huge or tiny weight cannot make picks
 * expensive), then scaled so that the largest becomes 65535. A shared sequence number walks the
 * backends in order; backend `i` in generation `g` is taken when
 * `(w[i] * g + i * OFFSET) mod 65535 >= 65535 - w[i]`, i.e. `w[i]` times in every 65535
 * generations, spread evenly. The heaviest backend is taken in every generation, so a pick
 * inspects at most `size` backends, and on average `max / mean` of the clamped weights (at most
 * 100, whatever the number of backends): expected O(1).
 *
 * Pure: no I/O, no timers, no allocation per pick. The caller supplies the random source used
 * once, for the starting offset (so that many clients do not march in step).
 */

const MAX_WEIGHT = 0xffff;
const OFFSET = MAX_WEIGHT >>> 1;
const MAX_RATIO = 10;
const MIN_RATIO = 0.1;

export class StrideScheduler {
  /** Scaled weights (1..65535), or null when every backend weighs the same (plain round robin). */
  private readonly scaled: Uint16Array | null;
  /** Sequence numbers wrap at this period: `size * 65535` (or `size` for plain round robin). */
  private readonly period: number;
  private readonly heaviest: number;
  private sequence: number;

  private constructor(
    readonly size: number,
    scaled: Uint16Array | null,
    heaviest: number,
    random: () => number,
  ) {
    this.scaled = scaled;
    this.heaviest = heaviest;
    this.period = scaled === null ? size : size * MAX_WEIGHT;
    this.sequence = Math.min(this.period - 1, Math.floor(random() * this.period));
  }

  /**
   * Builds a scheduler over `weights` (positive, finite; index i is backend i). Called by the
   * weighted picker each time the set of pickable backends changes. Throws a RangeError on an
   * empty list or a weight that is not a positive finite number.
   */
  static build(weights: ArrayLike<number>, random: () => number): StrideScheduler {
    const n = weights.length;
    if (n === 0) throw new RangeError('StrideScheduler needs at least one weight');
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w > 0) || !Number.isFinite(w)) {
        throw new RangeError(`weight ${i} is ${w}; weights must be positive finite numbers`);
      }
      sum += w;
    }
    const mean = sum / n;
    const low = mean * MIN_RATIO;
    const high = mean * MAX_RATIO;
    let max = 0;
    let heaviest = 0;
    const clamped = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = Math.min(high, Math.max(low, weights[i]));
      clamped[i] = w;
      if (w > max) {
        max = w;
        heaviest = i;
      }
    }
    const scale = MAX_WEIGHT / max;
    const scaled = new Uint16Array(n);
    let uniform = true;
    for (let i = 0; i < n; i++) {
      scaled[i] = Math.max(1, Math.min(MAX_WEIGHT, Math.round(clamped[i] * scale)));
      if (scaled[i] !== scaled[0]) uniform = false;
    }
    return new StrideScheduler(n, uniform ? null : scaled, heaviest, random);
  }

  /** The index of the next backend. Allocates nothing; inspects at most `size` backends. */
  next(): number {
    const n = this.size;
    const scaled = this.scaled;
    if (scaled === null) {
      const index = this.sequence;
      this.sequence = index + 1 === n ? 0 : index + 1;
      return index;
    }
    for (let tries = 0; tries < n; tries++) {
      const seq = this.sequence;
      this.sequence = seq + 1 === this.period ? 0 : seq + 1;
      const index = seq % n;
      const generation = (seq - index) / n;
      const weight = scaled[index];
      if ((weight * generation + index * OFFSET) % MAX_WEIGHT >= MAX_WEIGHT - weight) return index;
    }
    // Unreachable: the heaviest backend (weight 65535) is taken in every generation.
    return this.heaviest;
  }
}
