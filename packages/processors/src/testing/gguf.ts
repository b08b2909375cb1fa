// A tiny GGUF v3 writer and the random-weight llama model tests run on: a byte vocabulary (256 byte
// tokens and three control tokens, SentencePiece style), 64 dimensions, a couple of blocks, F32
// weights from a seeded generator. Generation is gibberish, but llama.cpp loads it, tokenizes,
// samples and detokenizes through the same path as a real model, in a few milliseconds.

import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/** Options of `writeTinyGGUF`. */
export interface TinyGGUFOptions {
  /** Transformer blocks; default 2. */
  blocks?: number;
  /** Seed of the weights; the same seed writes the same bytes. Default 1. */
  seed?: number;
}

const GGUF_MAGIC = 0x46554747; // 'GGUF' read as a little-endian u32
const ALIGNMENT = 32;

/** GGUF metadata value types. */
const T = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;

export type GGUFValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: 'string'; value: readonly string[] }
  | { type: 'array'; of: 'f32' | 'i32'; value: readonly number[] };

/** A growable little-endian byte buffer. */
class Bytes {
  #buffer = Buffer.alloc(1 << 16);
  length = 0;
  #room(n: number): void {
    if (this.length + n <= this.#buffer.length) return;
    const next = Buffer.alloc(Math.max(this.#buffer.length * 2, this.length + n));
    this.#buffer.copy(next, 0, 0, this.length);
    this.#buffer = next;
  }
  u32(v: number): void {
    this.#room(4);
    this.length = this.#buffer.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.#room(4);
    this.length = this.#buffer.writeInt32LE(v, this.length);
  }
  u64(v: number): void {
    this.#room(8);
    this.length = this.#buffer.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number): void {
    this.#room(4);
    this.length = this.#buffer.writeFloatLE(v, this.length);
  }
  u8(v: number): void {
    this.#room(1);
    this.length = this.#buffer.writeUInt8(v, this.length);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.raw(bytes);
  }
  raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  bytes(): Buffer {
    return this.#buffer.subarray(0, this.length);
  }
}

function writeValue(out: Bytes, value: GGUFValue): void {
  if (value.type === 'u32') out.u32(value.value);
  else if (value.type === 'i32') out.i32(value.value);
  else if (value.type === 'f32') out.f32(value.value);
  else if (value.type === 'bool') out.u8(value.value ? 1 : 0);
  else if (value.type === 'string') out.string(value.value);
  else {
    out.u32(T[value.of]);
    out.u64(value.value.length);
    for (const item of value.value) {
      if (value.of === 'string') out.string(item as string);
      else if (value.of === 'f32') out.f32(item as number);
      else out.i32(item as number);
    }
  }
}

/** One F32 tensor: `dims` innermost first, as GGUF stores them. */
export interface GGUFTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

/**
 * The bytes of a GGUF v3 file with `metadata` (in order) and F32 `tensors`, each tensor's data
 * aligned to 32 bytes. Pure.
 */
export function encodeGGUF(metadata: readonly [string, GGUFValue][], tensors: readonly GGUFTensor[]): Buffer {
  const out = new Bytes();
  out.u32(GGUF_MAGIC);
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    out.u32(T[value.type]);
    writeValue(out, value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(0); // GGML_TYPE_F32
    out.u64(offset);
    offset += Math.ceil(tensor.data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  out.pad(ALIGNMENT);
  for (const tensor of tensors) {
    out.raw(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    out.pad(ALIGNMENT);
  }
  return out.bytes();
}

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EMBED = 64;
const HEADS = 4;
const FEED_FORWARD = 128;
const CONTEXT = 512;

/**
 * The byte vocabulary: <unk>, <s>, </s>, then <0x00> ... <0xFF>, then '▁' (SentencePiece's space,
 * which it would otherwise spell as three bytes that detokenize as '▁' rather than ' ').
 */
function vocabulary(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  // Token types: 2 unknown, 3 control, 6 byte.
  const types = [2, 3, 3];
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  tokens.push('\u2581');
  types.push(1);
  return { tokens, scores: tokens.map(() => 0), types };
}

/** A ChatML template, so that node-llama-cpp picks its ChatML wrapper for the tiny model. */
const CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The metadata and tensors of the tiny llama model (see `writeTinyGGUF`). Pure and deterministic. */
export function tinyLlama(options: TinyGGUFOptions = {}): { metadata: [string, GGUFValue][]; tensors: GGUFTensor[] } {
  const blocks = options.blocks ?? 2;
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > 64) {
    throw new RangeError(`writeTinyGGUF: blocks must be an integer from 1 to 64, found ${blocks}`);
  }
  const next = random(options.seed ?? 1);
  const { tokens, scores, types } = vocabulary();
  const weights = (dims: readonly number[], scale: number): Float32Array => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (next() * 2 - 1) * scale;
    return data;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  // Dimension 0 of the residual stream is a constant the blocks never write to, and the control
  // tokens' output rows read it with a large negative weight: the random model never samples
  // <unk>, <s> or </s>, so an answer runs to maxTokens (and tests of long generations hold).
  const embeddings = weights([EMBED, tokens.length], 1);
  for (let t = 0; t < tokens.length; t++) embeddings[t * EMBED] = 4;
  const output = weights([EMBED, tokens.length], 0.5);
  for (let t = 0; t < tokens.length; t++) output[t * EMBED] = types[t] === 2 || types[t] === 3 ? -20 : 0;
  const notDimensionZero = (data: Float32Array, inputs: number) => {
    data.fill(0, 0, inputs);
    return data;
  };
  const tensors: GGUFTensor[] = [
    { name: 'token_embd.weight', dims: [EMBED, tokens.length], data: embeddings },
    { name: 'output_norm.weight', dims: [EMBED], data: ones(EMBED) },
    { name: 'output.weight', dims: [EMBED, tokens.length], data: output },
  ];
  const attention = 1 / Math.sqrt(EMBED);
  for (let b = 0; b < blocks; b++) {
    const blk = `blk.${b}`;
    tensors.push(
      { name: `${blk}.attn_norm.weight`, dims: [EMBED], data: ones(EMBED) },
      { name: `${blk}.attn_q.weight`, dims: [EMBED, EMBED], data: weights([EMBED, EMBED], attention) },
      { name: `${blk}.attn_k.weight`, dims: [EMBED, EMBED], data: weights([EMBED, EMBED], attention) },
      { name: `${blk}.attn_v.weight`, dims: [EMBED, EMBED], data: weights([EMBED, EMBED], attention) },
      {
        name: `${blk}.attn_output.weight`,
        dims: [EMBED, EMBED],
        data: notDimensionZero(weights([EMBED, EMBED], attention), EMBED),
      },
      { name: `${blk}.ffn_norm.weight`, dims: [EMBED], data: ones(EMBED) },
      {
        name: `${blk}.ffn_gate.weight`,
        dims: [EMBED, FEED_FORWARD],
        data: weights([EMBED, FEED_FORWARD], attention),
      },
      { name: `${blk}.ffn_up.weight`, dims: [EMBED, FEED_FORWARD], data: weights([EMBED, FEED_FORWARD], attention) },
      {
        name: `${blk}.ffn_down.weight`,
        dims: [FEED_FORWARD, EMBED],
        data: notDimensionZero(weights([FEED_FORWARD, EMBED], 1 / Math.sqrt(FEED_FORWARD)), FEED_FORWARD),
      },
    );
  }
  const metadata: [string, GGUFValue][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'sluice-tiny-llama' }],
    ['general.alignment', { type: 'u32', value: ALIGNMENT }],
    ['llama.context_length', { type: 'u32', value: CONTEXT }],
    ['llama.embedding_length', { type: 'u32', value: EMBED }],
    ['llama.block_count', { type: 'u32', value: blocks }],
    ['llama.feed_forward_length', { type: 'u32', value: FEED_FORWARD }],
    ['llama.attention.head_count', { type: 'u32', value: HEADS }],
    ['llama.attention.head_count_kv', { type: 'u32', value: HEADS }],
    ['llama.rope.dimension_count', { type: 'u32', value: EMBED / HEADS }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['llama.vocab_size', { type: 'u32', value: tokens.length }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array', of: 'f32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', value: types }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    // The prompt is sent as written, without SentencePiece's leading space.
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: CHAT_TEMPLATE }],
  ];
  return { metadata, tensors };
}

/**
 * Writes a tiny random-weight llama model (GGUF v3, F32, 64 dimensions, `blocks` blocks, a byte
 * vocabulary, about 500 KB with 2 blocks) to `path`; the same `seed` writes the same bytes. The
 * file is written beside `path` and renamed into place, so `path` never holds a partial model.
 */
export async function writeTinyGGUF(path: string, options: TinyGGUFOptions = {}): Promise<void> {
  const { metadata, tensors } = tinyLlama(options);
  const bytes = encodeGGUF(metadata, tensors);
  const temporary = `${path}.${randomUUID()}.partial`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
