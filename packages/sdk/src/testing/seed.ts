// Generated, deterministic content for the testing registry: a tiny base
// model (safetensors, F32 and BF16 tensors, a few layers) and packages that
// fit it (full deltas, LoRA pairs, both), plus memory and chain packages.
// Encoded with the processors' safetensors writer functions, in memory.

import { createHash } from 'node:crypto';
import {
  encodeFloats,
  encodeSafetensorsHeader,
  layoutTensors,
  type TensorData,
  writeSafetensors,
} from '@sluice/processors';
import type { PackageKind } from '../client/schemas.ts';

/** The shape of the generated base model. */
export interface BaseModelSpec {
  /** Transformer blocks; default 4. */
  layers?: number;
  /** Hidden size (every matrix is hidden x hidden); default 16. */
  hidden?: number;
  /** Rows of the embedding; default 32. */
  vocab?: number;
  /** PRNG seed of the values; default 1. */
  seed?: number;
}

/** A generated tensor: its values as numbers, encoded to `dtype` on write. */
export interface SeedTensor {
  readonly name: string;
  readonly dtype: 'F32' | 'BF16' | 'F16';
  readonly shape: readonly number[];
  readonly values: Float64Array;
}

/** A package the testing registry sells. Only `id`, `kind` and `content` are required. */
export interface PackageSeed {
  id: string;
  kind: PackageKind;
  /** The file's bytes. */
  content: Uint8Array;
  name?: string;
  description?: string;
  tags?: string[];
  /** 0 to 5; default 4. */
  rating?: number;
  /** Default 1.99. */
  price?: number;
  /** Default 'USD'. */
  currency?: string;
  /** Base model the package fits; default the generated base model's name. */
  model?: string;
  /** Default `<id>.safetensors` (vector), `<id>.jsonl` (memory), `<id>.json` (chain). */
  filename?: string;
  /** Vector packages: 'full', 'lora' or 'mixed'; default 'full'. */
  format?: string;
  /** Memory packages: default the number of whitespace-separated words in the content. */
  tokenCount?: number;
  /** Chain packages: default the length of the content's `steps` array (0 if none). */
  steps?: number;
  /**
   * A fault the download of this package shows: 'corrupt' serves bytes that
   * do not match the advertised sha256, 'not-found' answers 404.
   */
  fault?: 'corrupt' | 'not-found';
}

/** A mulberry32 PRNG: deterministic values in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function values(count: number, next: () => number, scale: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

/** The name of the base model for a spec: 'sluice-tiny-4l' by default. */
export function baseModelName(spec: BaseModelSpec = {}): string {
  return `sluice-tiny-${spec.layers ?? 4}l`;
}

/**
 * The base model's tensors, in file order: embedding (F32), per block
 * `self_attn.q_proj` and `self_attn.v_proj` (BF16), `mlp.down_proj` (F32) and
 * `input_layernorm` (F32), then the final norm (F32).
 */
export function baseModelTensors(spec: BaseModelSpec = {}): SeedTensor[] {
  const layers = spec.layers ?? 4;
  const h = spec.hidden ?? 16;
  const vocab = spec.vocab ?? 32;
  const next = random(spec.seed ?? 1);
  const tensors: SeedTensor[] = [
    { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [vocab, h], values: values(vocab * h, next, 0.5) },
  ];
  for (let i = 0; i < layers; i++) {
    const prefix = `model.layers.${i}`;
    tensors.push(
      { name: `${prefix}.self_attn.q_proj.weight`, dtype: 'BF16', shape: [h, h], values: values(h * h, next, 0.25) },
      { name: `${prefix}.self_attn.v_proj.weight`, dtype: 'BF16', shape: [h, h], values: values(h * h, next, 0.25) },
      { name: `${prefix}.mlp.down_proj.weight`, dtype: 'F32', shape: [h, h], values: values(h * h, next, 0.25) },
      { name: `${prefix}.input_layernorm.weight`, dtype: 'F32', shape: [h], values: new Float64Array(h).fill(1) },
    );
  }
  tensors.push({ name: 'model.norm.weight', dtype: 'F32', shape: [h], values: new Float64Array(h).fill(1) });
  return tensors;
}

function tensorData(tensors: readonly SeedTensor[]): TensorData[] {
  return tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: encodeFloats(t.dtype, t.values) }));
}

/** A whole safetensors file in memory (header padded to 8 bytes, tensors in the order given). */
export function encodeSafetensors(tensors: readonly SeedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const data = tensorData(tensors);
  const header = encodeSafetensorsHeader(layoutTensors(data), metadata);
  const size = data.reduce((sum, t) => sum + t.data.byteLength, header.length);
  const out = new Uint8Array(size);
  out.set(header, 0);
  let offset = header.length;
  for (const t of data) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Writes the base model to `path` (atomically, with the processors' writer). */
export async function writeBaseModel(path: string, spec: BaseModelSpec = {}): Promise<void> {
  await writeSafetensors(path, tensorData(baseModelTensors(spec)), { model: baseModelName(spec), format: 'pt' });
}

/** What a delta package changes. */
export interface DeltaSpec {
  /** Blocks whose `mlp.down_proj` gets a full delta tensor. */
  full?: readonly number[];
  /** Blocks whose `self_attn.q_proj` gets a LoRA pair. */
  lora?: readonly number[];
  /** LoRA rank; default 2. */
  rank?: number;
  /** `lora_alpha` metadata; default 2 * rank. */
  alpha?: number;
  /** Magnitude of the delta values; default 0.05. */
  scale?: number;
  seed?: number;
  /** Must match the base model's; default 16. */
  hidden?: number;
}

/**
 * A delta package for the generated base model, as safetensors bytes: full
 * F32 deltas named like the base tensors, and LoRA pairs named the PEFT way
 * (`base_model.model.<stem>.lora_A.weight` [r, in], `lora_B.weight` [out, r]).
 */
export function deltaPackage(spec: DeltaSpec): Uint8Array {
  const h = spec.hidden ?? 16;
  const rank = spec.rank ?? 2;
  const scale = spec.scale ?? 0.05;
  const next = random(spec.seed ?? 7);
  const tensors: SeedTensor[] = [];
  for (const i of spec.full ?? []) {
    tensors.push({
      name: `model.layers.${i}.mlp.down_proj.weight`,
      dtype: 'F32',
      shape: [h, h],
      values: values(h * h, next, scale),
    });
  }
  for (const i of spec.lora ?? []) {
    const stem = `base_model.model.model.layers.${i}.self_attn.q_proj`;
    tensors.push(
      {
        name: `${stem}.lora_A.weight`,
        dtype: 'F32',
        shape: [rank, h],
        values: values(rank * h, next, Math.sqrt(scale)),
      },
      {
        name: `${stem}.lora_B.weight`,
        dtype: 'F32',
        shape: [h, rank],
        values: values(h * rank, next, Math.sqrt(scale)),
      },
    );
  }
  const metadata: Record<string, string> = { format: 'pt' };
  if ((spec.lora ?? []).length > 0) {
    metadata.lora_alpha = String(spec.alpha ?? 2 * rank);
    metadata.lora_rank = String(rank);
  }
  return encodeSafetensors(tensors, metadata);
}

const text = (value: string) => new TextEncoder().encode(value);

function memoryContent(topic: string, sentences: readonly string[]): Uint8Array {
  return text(sentences.map((s, i) => JSON.stringify({ id: `${topic}-${i}`, text: s })).join('\n') + '\n');
}

/** The catalogue the testing registry starts with, for a base model of `spec`. */
export function defaultPackages(spec: BaseModelSpec = {}): PackageSeed[] {
  const hidden = spec.hidden ?? 16;
  const layers = spec.layers ?? 4;
  const all = Array.from({ length: layers }, (_, i) => i);
  const half = Math.ceil(layers / 2);
  const vector = (
    id: string,
    name: string,
    description: string,
    tags: string[],
    rating: number,
    price: number,
    delta: DeltaSpec,
  ): PackageSeed => ({
    id,
    kind: 'vector',
    name,
    description,
    tags,
    rating,
    price,
    format: delta.full?.length && delta.lora?.length ? 'mixed' : delta.lora?.length ? 'lora' : 'full',
    content: deltaPackage({ hidden, ...delta }),
  });
  return [
    vector(
      'vec-concise',
      'Concise answers',
      'Steers the model to short, direct answers.',
      ['style', 'concise'],
      4.8,
      4.99,
      {
        full: all,
        seed: 11,
      },
    ),
    vector('vec-pirate', 'Pirate voice', 'Talks like a pirate: arr, matey.', ['style', 'fun', 'voice'], 4.6, 2.99, {
      lora: all,
      rank: 2,
      seed: 12,
    }),
    vector(
      'vec-formal',
      'Formal tone',
      'A formal, polite register for business writing.',
      ['style', 'tone'],
      4.5,
      3.99,
      {
        full: all.slice(0, half),
        lora: all.slice(half),
        seed: 13,
      },
    ),
    vector('vec-cheerful', 'Cheerful tone', 'Upbeat and encouraging answers.', ['style', 'tone', 'fun'], 4.2, 1.99, {
      lora: all.slice(1, 3),
      rank: 1,
      seed: 14,
    }),
    vector(
      'vec-code',
      'Code helper',
      'Prefers code samples and precise technical answers.',
      ['code', 'technical'],
      4.0,
      5.99,
      {
        full: all.slice(half),
        seed: 15,
      },
    ),
    vector('vec-poetic', 'Poetic style', 'Answers with imagery and rhythm.', ['style', 'poetry'], 3.9, 2.49, {
      lora: all,
      rank: 4,
      seed: 16,
    }),
    vector(
      'vec-cautious',
      'Cautious advice',
      'Adds caveats and safety notes to advice.',
      ['safety', 'tone'],
      3.5,
      0.99,
      {
        full: [0],
        seed: 17,
      },
    ),
    {
      ...vector(
        'vec-llama-style',
        'Llama style',
        'A style vector for Llama 3.2 1B (does not fit the tiny model).',
        ['style'],
        4.7,
        6.99,
        {
          full: [0],
          hidden: 4,
          seed: 18,
        },
      ),
      model: 'llama-3.2-1b',
    },
    {
      id: 'mem-sluice-docs',
      kind: 'memory',
      name: 'Sluice documentation',
      description: 'The Sluice docs as retrieval documents.',
      tags: ['docs', 'sluice'],
      rating: 4.9,
      price: 0,
      content: memoryContent('sluice', [
        'A processor is a function from a stream of parts to a stream of parts.',
        'chain(a, b) streams: b sees the first output of a before a finishes.',
        'Stopping a run aborts every processor in it and runs their finally blocks.',
      ]),
    },
    {
      id: 'mem-safetensors',
      kind: 'memory',
      name: 'safetensors format notes',
      description: 'How safetensors files are laid out, for grounding answers.',
      tags: ['docs', 'weights'],
      rating: 4.4,
      price: 0.99,
      content: memoryContent('safetensors', [
        'A safetensors file starts with an 8-byte little-endian header length.',
        'The JSON header maps tensor names to dtype, shape and data offsets.',
      ]),
    },
    {
      id: 'mem-pirate-lore',
      kind: 'memory',
      name: 'Pirate lore',
      description: 'Facts about pirates, to go with the pirate voice.',
      tags: ['fun', 'voice'],
      rating: 3.8,
      price: 1.49,
      content: memoryContent('pirate', ['Pirates flew the Jolly Roger.', 'A doubloon is a gold coin.']),
    },
    {
      id: 'chain-summarize',
      kind: 'chain',
      name: 'Summarize then translate',
      description: 'Summarizes a document, then translates the summary.',
      tags: ['text', 'translate'],
      rating: 4.3,
      price: 0,
      content: text(JSON.stringify({ steps: ['sentences', 'summarize', 'translate'] })),
    },
    {
      id: 'chain-align-explain',
      kind: 'chain',
      name: 'Align and explain',
      description: 'Aligns a vector package, then asks a model to explain the result.',
      tags: ['weights', 'explain'],
      rating: 4.1,
      price: 0.49,
      content: text(JSON.stringify({ steps: ['purchase', 'download', 'align', 'explain'] })),
    },
  ];
}

/** Lowercase hex sha256. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
