// The plan of one alignment, made before anything is written: the options checked, every tensor of the delta
// package matched to a base tensor (a full delta, or a LoRA pair `A`/`B` of rank r scaled by alpha / r), names,
// shapes and dtypes checked, and the base's tensors grouped by layer with the layers to modify marked.

import { FormatError } from '../safetensors/errors.ts';
import {
  isFloatDtype,
  type ModelTensor,
  type SafetensorsFile,
  type TensorInfo,
  type WeightsModel,
} from '../safetensors/index.ts';
import { DeltaConflictError, DtypeError, ShapeError, UnmatchedError } from './errors.ts';

/** Throws RangeError unless `strength` is finite and 0 <= strength <= 2. */
export function checkStrength(strength: number): void {
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength < 0 || strength > 2) {
    throw new RangeError(`strength must be a finite number in [0, 2], got ${String(strength)}`);
  }
}

/** Throws RangeError unless `layers` is undefined or an array of non-negative integers. */
export function checkLayers(layers: readonly number[] | undefined): void {
  if (layers === undefined) return;
  if (!Array.isArray(layers) || !layers.every((l) => Number.isSafeInteger(l) && l >= 0)) {
    throw new RangeError(`layers must be an array of non-negative integers, got ${JSON.stringify(layers)}`);
  }
}

/** Throws RangeError unless `blockBytes` is an integer >= 64. */
export function checkBlockBytes(blockBytes: number): void {
  if (!Number.isSafeInteger(blockBytes) || blockBytes < 64) {
    throw new RangeError(`blockBytes must be an integer >= 64, got ${blockBytes}`);
  }
}

const LAYER_PATTERN = /(^|\.)(layers|h|blocks|block|layer)\.(\d+)\./;

/** The block (layer) index of a tensor name, or undefined for tensors outside blocks (embeddings, final norm, ...). */
export function layerIndexOf(name: string): number | undefined {
  const match = LAYER_PATTERN.exec(name);
  return match ? Number(match[3]) : undefined;
}

/** What happens to one base tensor: a full delta of its shape, or a LoRA pair (`scale` is alpha / rank). */
export type Modification =
  | { readonly kind: 'full'; readonly delta: TensorInfo }
  | {
      readonly kind: 'lora';
      readonly a: TensorInfo;
      readonly b: TensorInfo;
      readonly rank: number;
      readonly scale: number;
    };

/** One layer (block index) of the base: its tensors, and whether they are modified (`layers` option). */
export interface LayerPlan {
  readonly index: number;
  readonly tensors: readonly ModelTensor[];
  readonly selected: boolean;
}

/** Every layer in ascending order (tensors outside blocks go with the last), and the modification of each base tensor by name. */
export interface Plan {
  readonly layers: readonly LayerPlan[];
  readonly modifications: ReadonlyMap<string, Modification>;
}

const LORA_PREFIX = 'base_model.model.';
const LORA_A = '.lora_A.weight';
const LORA_B = '.lora_B.weight';

/** Resolves every package tensor to a base tensor and checks names, shapes and dtypes; writes nothing. */
export function resolvePlan(base: WeightsModel, pkg: SafetensorsFile, layers: readonly number[] | undefined): Plan {
  const full = new Map<string, TensorInfo>();
  const loraA = new Map<string, TensorInfo>();
  const loraB = new Map<string, TensorInfo>();
  for (const t of pkg.tensors) {
    const stripped = t.name.startsWith(LORA_PREFIX) ? t.name.slice(LORA_PREFIX.length) : t.name;
    const side = stripped.endsWith(LORA_A) ? loraA : stripped.endsWith(LORA_B) ? loraB : undefined;
    if (!side) {
      full.set(t.name, t);
      continue;
    }
    const target = `${stripped.slice(0, -LORA_A.length)}.weight`;
    if (side.has(target)) throw new DeltaConflictError(target);
    side.set(target, t);
  }
  const unmatched: string[] = [];
  for (const [name] of full) if (!base.tensor(name)) unmatched.push(name);
  for (const [target, t] of loraA) if (!base.tensor(target) || !loraB.has(target)) unmatched.push(t.name);
  for (const [target, t] of loraB) if (!base.tensor(target) || !loraA.has(target)) unmatched.push(t.name);
  if (unmatched.length > 0) throw new UnmatchedError(unmatched);

  const modifications = new Map<string, Modification>();
  for (const [name, delta] of full) {
    const target = base.tensor(name)!.info;
    if (loraA.has(name)) throw new DeltaConflictError(name);
    checkFloat(target);
    checkFloat(delta);
    if (!sameShape(target.shape, delta.shape)) {
      throw new ShapeError(name, `delta has shape [${delta.shape}], base has [${target.shape}]`);
    }
    modifications.set(name, { kind: 'full', delta });
  }
  const alphaText = pkg.metadata.lora_alpha;
  const alpha = alphaText === undefined ? undefined : Number(alphaText);
  if (alphaText !== undefined && (alphaText.trim() === '' || !Number.isFinite(alpha))) {
    throw new FormatError('invalid-metadata', `__metadata__.lora_alpha is ${JSON.stringify(alphaText)}, not a number`, {
      path: pkg.path,
    });
  }
  for (const [name, a] of loraA) {
    const b = loraB.get(name)!;
    const target = base.tensor(name)!.info;
    checkFloat(target);
    checkFloat(a);
    checkFloat(b);
    if (target.shape.length !== 2 || a.shape.length !== 2 || b.shape.length !== 2) {
      throw new ShapeError(name, `LoRA needs 2-D tensors: base [${target.shape}], A [${a.shape}], B [${b.shape}]`);
    }
    // All three are 2-D (checked just above).
    const [out, inner] = target.shape as [number, number];
    const [rank, aCols] = a.shape as [number, number];
    const [bRows, bRank] = b.shape as [number, number];
    if (rank < 1 || aCols !== inner || bRows !== out || bRank !== rank) {
      throw new ShapeError(
        name,
        `LoRA A [${a.shape}] and B [${b.shape}] do not make [${target.shape}] (expected A [r, ${inner}], B [${out}, r], r >= 1)`,
      );
    }
    modifications.set(name, { kind: 'lora', a, b, rank, scale: (alpha ?? rank) / rank });
  }

  const byLayer = new Map<number, ModelTensor[]>();
  const outside: ModelTensor[] = [];
  for (const t of base.tensors) {
    const index = layerIndexOf(t.name);
    if (index === undefined) outside.push(t);
    else byLayer.set(index, [...(byLayer.get(index) ?? []), t]);
  }
  const indices = [...byLayer.keys()].sort((x, y) => x - y);
  if (layers) {
    const missing = layers.filter((l) => !byLayer.has(l));
    if (missing.length > 0) {
      throw new RangeError(
        `layers ${missing.join(', ')} are not in the base (it has ${indices.length ? `${indices[0]}..${indices.at(-1)}` : 'no layers'})`,
      );
    }
  }
  const wanted = layers ? new Set(layers) : undefined;
  const plans: LayerPlan[] = indices.map((index) => ({
    index,
    tensors: byLayer.get(index)!,
    selected: wanted ? wanted.has(index) : true,
  }));
  if (plans.length === 0) plans.push({ index: 0, tensors: [], selected: wanted === undefined });
  // Tensors outside blocks count toward the final chunk; they are modified only when no subset was asked for.
  const last = plans.at(-1)!;
  plans[plans.length - 1] = { ...last, tensors: [...last.tensors, ...outside] };
  return {
    layers: plans,
    modifications: new Map([...modifications].filter(([name]) => isSelected(name, plans, wanted))),
  };
}

function isSelected(name: string, plans: readonly LayerPlan[], wanted: Set<number> | undefined): boolean {
  if (!wanted) return true;
  const index = layerIndexOf(name);
  return index !== undefined && wanted.has(index) && plans.some((p) => p.index === index);
}

function checkFloat(t: TensorInfo): void {
  if (!isFloatDtype(t.dtype)) throw new DtypeError(t.name, t.dtype);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
