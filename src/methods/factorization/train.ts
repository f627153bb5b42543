/**
 * SGD training of the FM for implicit feedback with the BPR criterion (Rendle et al. 2009): every
 * observed (user, item) pair is pushed above sampled items of the same namespace the user does not
 * have. Deterministic for a seed: one seeded generator drives initialisation, shuffling and sampling,
 * and the arithmetic runs in a fixed order on one thread.
 */
import type { ProgressFn } from "../../types.ts";
import { hasItem, type FMData } from "./features.ts";
import { applyBprGradient, BprScratch, bprDifferences, bprGradient, initParams, type FMParams } from "./model.ts";
import { Rng } from "../../random.ts";

export interface TrainOptions {
  /** Latent dimension k. */
  factors: number;
  epochs: number;
  /** Initial SGD step size; decays linearly to `learningRate · finalRate` over the epochs. */
  learningRate: number;
  /** L2 penalty λ on every parameter a step touches. */
  regularization: number;
  /** Sampled negatives per positive; one SGD step on the positive against all of them. */
  negatives: number;
  seed: number;
  /**
   * Share of negatives drawn in proportion to item popularity (a random positive's item) rather than
   * uniformly. Popular negatives keep popularity in the item biases and taste in the factors.
   */
  popularNegatives?: number;
  /** Last epoch's step size as a fraction of the first (default 0.1). */
  finalRate?: number;
  /** Standard deviation of the initial factors (default 0.1). */
  initStd?: number;
  /** Standard deviation of the initial user factors (default: `initStd`). */
  userInitStd?: number;
  /** Step size of the context (user, band) factors as a multiple of the learning rate (default 1). */
  userRate?: number;
  onEpoch?: (stats: EpochStats) => void;
  onProgress?: ProgressFn;
}

/** What one epoch did: mean loss per pair and a sampled ranking metric, to watch convergence. */
export interface EpochStats {
  /** 1-based. */
  epoch: number;
  epochs: number;
  learningRate: number;
  /** Mean weighted BPR loss per (positive, negative) pair. */
  loss: number;
  /**
   * Sampled AUC: share of a fixed sample of (user, observed item, unobserved item) triples, drawn once
   * before training, that the model orders correctly after the epoch (0.5 = chance).
   */
  auc: number;
  pairs: number;
  seconds: number;
}

export interface TrainResult {
  params: FMParams;
  epochs: EpochStats[];
}

const AUC_SAMPLE = 2000;

/** Draws an item of namespace `ns` that user `u` does not have, or -1 after a few failed tries. */
function sampleNegative(data: FMData, rng: Rng, u: number, ns: number, popular: number): number {
  const lo = data.nsStart[ns];
  const span = data.nsStart[ns + 1] - lo;
  const items = data.nsItems[ns];
  for (let attempt = 0; attempt < 32; attempt++) {
    const j = popular > 0 && rng.next() < popular ? items[rng.int(items.length)] : lo + rng.int(span);
    if (!hasItem(data, u, j)) return j;
  }
  return -1;
}

function nsOf(data: FMData, item: number): number {
  return item < data.nsStart[1] ? 0 : item < data.nsStart[2] ? 1 : 2;
}

/** Loads example `e`'s context and positive item into the scratch (no negatives yet). */
function loadPositive(data: FMData, s: BprScratch, e: number): void {
  s.setContext(data.posUser[e], data.posContext[e]);
  const item = data.posItem[e];
  s.setPositive(data.itemFeatures, data.itemValues, data.itemOffsets[item], data.itemOffsets[item + 1]);
}

function loadNegative(data: FMData, s: BprScratch, item: number): void {
  s.addNegative(data.itemFeatures, data.itemValues, data.itemOffsets[item], data.itemOffsets[item + 1]);
}

/** Trains FM parameters on the positives of `data`. */
export function trainFMParams(data: FMData, opts: TrainOptions): TrainResult {
  const { factors: k, epochs, learningRate, regularization, negatives, seed } = opts;
  const popular = opts.popularNegatives ?? 0;
  const finalRate = opts.finalRate ?? 0.1;
  const userRate = opts.userRate ?? 1;
  const rng = new Rng(seed);
  const initStd = opts.initStd ?? 0.1;
  const params = initParams(data.nFeatures, k, rng, initStd);
  const userInit = opts.userInitStd ?? initStd;
  if (userInit !== initStd) {
    const scale = initStd > 0 ? userInit / initStd : 0;
    for (let i = 0; i < data.nUsers * k; i++) params.v[i] *= scale;
  }
  let maxRow = 1;
  for (let i = 0; i < data.nItems; i++) maxRow = Math.max(maxRow, data.itemOffsets[i + 1] - data.itemOffsets[i]);
  const s = new BprScratch(k, negatives, maxRow);

  const nPos = data.posUser.length;
  // A separate stream for the AUC sample, so the metric does not perturb training.
  const aucRng = new Rng(seed ^ 0x5bd1e995);
  const aucExample: number[] = [];
  const aucNeg: number[] = [];
  for (let t = 0; t < Math.min(AUC_SAMPLE, nPos); t++) {
    const e = aucRng.int(nPos);
    const j = sampleNegative(data, aucRng, data.posUser[e], nsOf(data, data.posItem[e]), 0);
    if (j < 0) continue;
    aucExample.push(e);
    aucNeg.push(j);
  }

  const order = new Int32Array(nPos);
  for (let i = 0; i < nPos; i++) order[i] = i;
  const stats: EpochStats[] = [];
  const total = epochs * nPos;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const t0 = performance.now();
    const lr = epochs > 1 ? learningRate * (1 - ((1 - finalRate) * epoch) / (epochs - 1)) : learningRate;
    rng.shuffle(order);
    let loss = 0;
    let pairs = 0;
    for (let t = 0; t < nPos; t++) {
      const e = order[t];
      const u = data.posUser[e];
      const ns = nsOf(data, data.posItem[e]);
      loadPositive(data, s, e);
      for (let n = 0; n < negatives; n++) {
        const j = sampleNegative(data, rng, u, ns, popular);
        if (j < 0) break;
        loadNegative(data, s, j);
      }
      if (s.nNegatives > 0) {
        // One SGD step on the positive against all its negatives: the context and positive sums
        // are computed once rather than once per negative.
        loss += bprGradient(params, s, data.posWeight[e]);
        applyBprGradient(params, s, lr, regularization, lr * userRate);
        pairs += s.nNegatives;
      }
      if (opts.onProgress && (t & 0x3fff) === 0) opts.onProgress("train", epoch * nPos + t, total);
    }
    let correct = 0;
    for (let t = 0; t < aucExample.length; t++) {
      loadPositive(data, s, aucExample[t]);
      loadNegative(data, s, aucNeg[t]);
      bprDifferences(params, s);
      const d = s.d[0];
      correct += d > 0 ? 1 : d === 0 ? 0.5 : 0;
    }
    const st: EpochStats = {
      epoch: epoch + 1,
      epochs,
      learningRate: lr,
      loss: pairs > 0 ? loss / pairs : 0,
      auc: aucExample.length > 0 ? correct / aucExample.length : NaN,
      pairs,
      seconds: (performance.now() - t0) / 1000,
    };
    stats.push(st);
    opts.onEpoch?.(st);
  }
  opts.onProgress?.("train", total, total);
  return { params, epochs: stats };
}
