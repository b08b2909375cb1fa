// Terminal progress for the long steps of an application (batchLoad,
// streamAlign, downloads): a bar redrawn in place on a TTY, and plain log
// lines everywhere else (pipes, CI logs, files), where carriage returns and
// escape codes would be garbage.

import type { AlignmentChunk } from '@sluice/processors';
import type { BatchLoadParams, LoadResult } from './client/batch-load.ts';

/** Where progress is written: `process.stdout`, `process.stderr`, or anything with `write`. */
export interface ProgressOutput {
  write(chunk: string): unknown;
  /** True for a terminal: the bar is redrawn in place. */
  readonly isTTY?: boolean;
  /** Terminal width; a redrawn line is cut to fit so it never wraps. */
  readonly columns?: number;
}

/** What a progress line shows. */
export interface ProgressState {
  readonly current: number;
  readonly total: number;
  /** `floor(100 * current / total)`, 0 to 100 (100 when total is 0): 100 % only once complete. */
  readonly percent: number;
  readonly detail?: string;
}

/** Options of `progressBar`. */
export interface ProgressOptions {
  /** Names the step, e.g. 'batchLoad': the line reads `batchLoad: 2/3 files`. */
  label: string;
  /** Default `process.stderr`. */
  output?: ProgressOutput;
  /** Redraw in place; default `output.isTTY === true`. */
  tty?: boolean;
  /** The text after the label (the detail, if any, follows it); default `${current}/${total}`. */
  format?: (state: ProgressState) => string;
  /** Cells of the bar (TTY only); default 20. */
  width?: number;
  /** Least time between two redraws on a TTY; default 100 ms. Plain output is not throttled. */
  intervalMs?: number;
}

/** Defaults of `progressBar`. */
export const PROGRESS_DEFAULTS = { width: 20, intervalMs: 100 } as const;

/** One progress bar. */
export interface ProgressBar {
  /** Whether it redraws in place (TTY) or writes lines. */
  readonly tty: boolean;
  /** Ignored after `done()`. */
  update(current: number, total: number, detail?: string): void;
  /** Writes a line of its own without breaking the bar (on a TTY the bar is redrawn below it). */
  log(line: string): void;
  /**
   * Shows the last state (with `detail` if given) and leaves the line, so later output starts on a
   * new line. Writes nothing if there was no update and no detail. Idempotent.
   */
  done(detail?: string): void;
}

const defaultFormat = ({ current, total }: ProgressState) => `${current}/${total}`;

/**
 * A progress bar for one step. On a TTY each update redraws one line in place
 * (`\r`, then erase to the end of the line), at most every `intervalMs`; an
 * update skipped by the throttle is drawn when the interval ends (an unref'd
 * timer, cleared by `done()`), and reaching the total is drawn at once. Not on
 * a TTY, each update that changes the text writes a line `<label>: <text>`.
 */
export function progressBar(options: ProgressOptions): ProgressBar {
  const output: ProgressOutput = options.output ?? process.stderr;
  const tty = options.tty ?? output.isTTY === true;
  const format = options.format ?? defaultFormat;
  const width = options.width ?? PROGRESS_DEFAULTS.width;
  const intervalMs = options.intervalMs ?? PROGRESS_DEFAULTS.intervalMs;
  if (!Number.isSafeInteger(width) || width < 1) throw new RangeError(`progressBar: width must be >= 1, got ${width}`);
  if (!(intervalMs >= 0)) throw new RangeError(`progressBar: intervalMs must be >= 0, got ${intervalMs}`);

  let state: ProgressState = { current: 0, total: 0, percent: 0 };
  let updated = false;
  let lastLine: string | undefined;
  let drawn = false;
  /** The state changed since it was last drawn (TTY). */
  let dirty = false;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;

  const text = () => {
    if (!updated) return state.detail ?? '';
    return state.detail ? `${format(state)} ${state.detail}` : format(state);
  };
  const plainLine = () => `${options.label}: ${text()}`;
  const barLine = () => {
    const filled = Math.round((state.percent / 100) * width);
    const line = `${options.label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${text()}`;
    const columns = output.columns;
    return columns && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
  };
  const draw = () => {
    clearTimeout(timer);
    timer = undefined;
    output.write(`\r${barLine()}\x1b[K`);
    drawn = true;
    dirty = false;
    lastDraw = Date.now();
  };
  const writeLine = () => {
    const line = plainLine();
    if (line === lastLine) return;
    lastLine = line;
    output.write(`${line}\n`);
  };

  return {
    tty,
    update(current, total, detail) {
      if (finished) return;
      if (!(current >= 0) || !(total >= 0)) {
        throw new RangeError(`progressBar(${options.label}): current and total must be >= 0, got ${current}/${total}`);
      }
      const percent = total > 0 ? Math.min(100, Math.floor((100 * current) / total)) : 100;
      state = detail === undefined ? { current, total, percent } : { current, total, percent, detail };
      updated = true;
      if (!tty) return writeLine();
      dirty = true;
      const wait = lastDraw + intervalMs - Date.now();
      if (wait <= 0 || current >= total) return draw();
      if (timer === undefined) {
        timer = setTimeout(draw, wait);
        (timer as { unref?: () => void }).unref?.();
      }
    },
    log(line) {
      if (!tty || !drawn || finished) {
        output.write(`${line}\n`);
        return;
      }
      output.write(`\r\x1b[K${line}\n`);
      draw();
    },
    done(detail) {
      if (finished) return;
      finished = true;
      if (!updated && detail === undefined) return; // nothing was shown: nothing to end
      if (detail !== undefined) state = { ...state, detail };
      if (tty) {
        if (dirty || !drawn || detail !== undefined) draw();
        else clearTimeout(timer);
        output.write('\n');
      } else writeLine();
    },
  };
}

const KiB = 1024;
const sizeOf = (bytes: number) =>
  bytes < KiB
    ? `${bytes} B`
    : bytes < KiB * KiB
      ? `${(bytes / KiB).toFixed(1)} KiB`
      : `${(bytes / KiB / KiB).toFixed(1)} MiB`;

/**
 * `onProgress` and `onLoaded` for `client.vectors.batchLoad` drawing one bar
 * over the packages (`batchLoad: 2/3 files`) and logging each package as it
 * finishes (`loaded vec-formal (3.2 KiB)`, `failed vec-x: <error>`). The bar
 * is done when the last package finished; call `bar.done()` yourself if the
 * batch may stop early (abort).
 */
export function batchLoadProgress(
  options: Partial<ProgressOptions> = {},
): Required<Pick<BatchLoadParams, 'onProgress' | 'onLoaded'>> & { bar: ProgressBar } {
  const bar = progressBar({
    format: ({ current, total }) => `${current}/${total} files`,
    ...options,
    label: options.label ?? 'batchLoad',
  });
  return {
    bar,
    onLoaded: (result: LoadResult) =>
      bar.log(
        result.success
          ? `  loaded ${result.packageId} (${sizeOf(result.sizeBytes ?? 0)}${result.cached ? ', cached' : ''})`
          : `  failed ${result.packageId}: ${result.error}`,
      ),
    onProgress: ({ completed, total }) => {
      bar.update(completed, total);
      if (completed >= total) bar.done();
    },
  };
}

/**
 * Passes the chunks of an alignment (`client.wmatrix.streamAlign(...)` or the
 * `align` processor's chunks) through unchanged, in order, drawing one bar
 * over the layers (`align: layer 3/4 (75%)`). The bar is done after the final
 * chunk, or when iteration stops (break, error); stopping early returns the
 * source, so an AlignmentStream is cancelled.
 */
export async function* alignProgress(
  chunks: AsyncIterable<AlignmentChunk>,
  options: Partial<ProgressOptions> = {},
): AsyncGenerator<AlignmentChunk, void, undefined> {
  const bar = progressBar({
    format: ({ current, total, percent }) => `layer ${current}/${total} (${percent}%)`,
    ...options,
    label: options.label ?? 'align',
  });
  try {
    for await (const chunk of chunks) {
      bar.update(chunk.layerIndex + 1, chunk.totalLayers);
      yield chunk;
    }
  } finally {
    bar.done();
  }
}
