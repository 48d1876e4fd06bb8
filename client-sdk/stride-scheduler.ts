/**
 * The static-stride scheduler of gRFC A58 (grpc-go's and grpc-core's weighted round robin): a
 * deterministic weighted round robin whose pick cost does not grow with the number of backends.
 *
 * Weights are spread over "slots": a backend heavier than SPLIT × the mean weight gets several
 * slots sharing its weight, so no slot outweighs the mean slot by more than about SPLIT + 1. Slot
 * weights are scaled so that the heaviest becomes 65535. A shared sequence number walks the slots
 * in order; slot `i` in generation `g` is taken when
 * `(w[i] * g + i * OFFSET) mod 65535 >= 65535 - w[i]`, i.e. `w[i]` times in every 65535
 * generations, spread evenly. The heaviest slot is taken in every generation, so a pick inspects at
 * most `slots` entries, and on average `max / mean` of the slot weights (at most SPLIT + 1, however
 * skewed the weights and however many backends): expected O(1). Unlike A58 (which clamps weights
 * to [mean / 10, mean * 10]), weights are honoured as given, down to 1/65535 of the heaviest slot.
 *
 * Pure: no I/O, no timers, no allocation per pick. The caller supplies the random source used
 * once, for the starting offset (so that many clients do not march in step). A picker rebuilt on a
 * state change keeps its predecessor's position with fork() (same backends and weights) or seek()
 * (the set changed), as grpc-js's round_robin keeps its next index.
 */

const MAX_WEIGHT = 0xffff;
const OFFSET = MAX_WEIGHT >>> 1;
/** A backend heavier than SPLIT × the mean weight is split over several slots. */
const SPLIT = 4;

function periodOf(slots: number, scaled: Uint16Array | null): number {
  return scaled === null ? slots : slots * MAX_WEIGHT;
}

export class StrideScheduler {
  /** Scaled slot weights (1..65535), or null when every slot weighs the same (round robin). */
  private readonly scaled: Uint16Array | null;
  /** The backend index of each slot. */
  private readonly owner: Uint32Array;
  /** Sequence numbers wrap at this period: `slots * 65535` (or `slots` for round robin). */
  private readonly period: number;
  private readonly heaviestSlot: number;
  private sequence: number;

  private constructor(
    /** Number of backends. */
    readonly size: number,
    owner: Uint32Array,
    scaled: Uint16Array | null,
    heaviestSlot: number,
    sequence: number,
  ) {
    this.owner = owner;
    this.scaled = scaled;
    this.heaviestSlot = heaviestSlot;
    this.period = periodOf(owner.length, scaled);
    this.sequence = sequence;
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
    const cap = (SPLIT * sum) / n;
    let slots = 0;
    for (let i = 0; i < n; i++) slots += Math.ceil(weights[i] / cap);
    const owner = new Uint32Array(slots);
    const slotWeight = new Float64Array(slots);
    let s = 0;
    let max = 0;
    let heaviestSlot = 0;
    for (let i = 0; i < n; i++) {
      const parts = Math.ceil(weights[i] / cap);
      const w = weights[i] / parts;
      for (let p = 0; p < parts; p++, s++) {
        owner[s] = i;
        slotWeight[s] = w;
        if (w > max) {
          max = w;
          heaviestSlot = s;
        }
      }
    }
    const scale = MAX_WEIGHT / max;
    const scaled = new Uint16Array(slots);
    let uniform = true;
    for (let j = 0; j < slots; j++) {
      scaled[j] = Math.max(1, Math.min(MAX_WEIGHT, Math.round(slotWeight[j] * scale)));
      if (scaled[j] !== scaled[0]) uniform = false;
    }
    const finalScaled = uniform ? null : scaled;
    const period = periodOf(slots, finalScaled);
    const start = Math.min(period - 1, Math.floor(random() * period));
    return new StrideScheduler(n, owner, finalScaled, heaviestSlot, start);
  }

  /**
   * A scheduler over the same slots that goes on from this one's position (this one is left as it
   * is). Called by the weighted picker when it is rebuilt over the same backends and weights: O(1),
   * the slot tables are shared (never written after build).
   */
  fork(): StrideScheduler {
    return new StrideScheduler(this.size, this.owner, this.scaled, this.heaviestSlot, this.sequence);
  }

  /** The backend the next call of next() returns; moves nothing. */
  peek(): number {
    const sequence = this.sequence;
    const backend = this.next();
    this.sequence = sequence;
    return backend;
  }

  /** The current generation (round over the slots): 0 … 65534, always 0 for round robin. */
  get generation(): number {
    return Math.floor(this.sequence / this.owner.length);
  }

  /**
   * Moves the position so that next() returns `backend` first: its first slot in `generation`, or
   * in the first later generation where that slot is due (at most 65535 steps, once per rebuild).
   * Called by the weighted picker right after build(), to go on where its predecessor stood when
   * the backend set changed.
   */
  seek(backend: number, generation: number): void {
    if (!(backend >= 0 && backend < this.size)) throw new RangeError(`no backend ${backend}`);
    const owner = this.owner;
    let lo = 0;
    let hi = owner.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (owner[mid] < backend) lo = mid + 1;
      else hi = mid;
    }
    const slot = lo;
    const scaled = this.scaled;
    if (scaled === null) {
      this.sequence = slot;
      return;
    }
    const weight = scaled[slot];
    let g = Math.floor(generation) % MAX_WEIGHT;
    // A slot of weight w is due w times in every 65535 generations, so the loop ends.
    for (let i = 0; i < MAX_WEIGHT; i++) {
      if ((weight * g + slot * OFFSET) % MAX_WEIGHT >= MAX_WEIGHT - weight) break;
      g = g + 1 === MAX_WEIGHT ? 0 : g + 1;
    }
    this.sequence = g * owner.length + slot;
  }

  /** The index of the next backend. Allocates nothing; inspects at most one round of slots. */
  next(): number {
    const slots = this.owner.length;
    const scaled = this.scaled;
    if (scaled === null) {
      const slot = this.sequence;
      this.sequence = slot + 1 === slots ? 0 : slot + 1;
      return this.owner[slot];
    }
    for (let tries = 0; tries < slots; tries++) {
      const seq = this.sequence;
      this.sequence = seq + 1 === this.period ? 0 : seq + 1;
      const slot = seq % slots;
      const generation = (seq - slot) / slots;
      const weight = scaled[slot];
      if ((weight * generation + slot * OFFSET) % MAX_WEIGHT >= MAX_WEIGHT - weight) return this.owner[slot];
    }
    // Unreachable: the heaviest slot (weight 65535) is taken in every generation.
    return this.owner[this.heaviestSlot];
  }
}
