;; The WebAssembly SIMD kernel of `align`: F32 weights with an F32 full delta, and BF16 weights with a BF16 full
;; delta, four elements at a time, in place in the arena (the shared memory of workers.ts). align-simd.js loads it;
;; `pnpm run build:wasm` compiles this file into align-simd-wasm.js (test/align.wasm-source.test.ts checks that the
;; committed bytes are this file's).
;;
;; It must write exactly the bytes of the plain JavaScript kernel (align-kernel.js), which is the reference:
;;   delta = s * d in f64, out = binary32(w + delta) (round to nearest, ties to even), then BF16 the same way;
;;   an element whose delta is 0 keeps its bits (so strength 0 is byte-identical, -0 and NaN payloads included);
;;   the sums (delta^2, w * out, w^2, out^2) are f64.
;; Every step below is one IEEE operation that JavaScript does too (f64 multiply and add, rounding to binary32), so
;; the bytes agree lane by lane. What does not agree is left to the JavaScript kernel: a group of 4 with an output
;; that is NaN or +-Inf (a weight that overflows, which align reports as an error with the values, or a base that
;; holds NaN/Inf, whose payloads WebAssembly does not keep). The kernel stops before such a group, writes nothing
;; of it, and returns its index; align-simd.js hands that group to align-kernel.js and calls the kernel again after
;; it. Only the order of the f64 sums differs from the JavaScript kernel (two lanes each, added at the end).

(module
  ;; The memory the weights and deltas live in: shared between the worker threads and the main thread, any size up
  ;; to 4 GiB (the arena's size is fixed when align starts).
  (import "m" "memory" (memory 1 65536 shared))

  ;; Both exports: (weights, deltas, n, s, sums) -> done. `weights` and `deltas` are byte addresses of n elements
  ;; each (n a multiple of 4); the weights are modified in place. The sums of the elements done are stored as five
  ;; f64 at `sums`: sum of delta^2, sum of w * out, sum of w^2, sum of out^2, and 1 if any element changed (else
  ;; 0). `done` is n, or the index of the first group of 4 left to the JavaScript kernel (unwritten, not summed).
  (func (export "f32") (param $weights i32) (param $deltas i32) (param $n i32) (param $s f64) (param $sums i32)
    (result i32)
    (call $apply (local.get $weights) (local.get $deltas) (local.get $n) (local.get $s) (local.get $sums)
      (i32.const 0)))

  (func (export "bf16") (param $weights i32) (param $deltas i32) (param $n i32) (param $s f64) (param $sums i32)
    (result i32)
    (call $apply (local.get $weights) (local.get $deltas) (local.get $n) (local.get $s) (local.get $sums)
      (i32.const 1)))

  ;; One loop for both dtypes: they differ only in how 4 elements are loaded and stored and in the rounding to
  ;; BF16, and `$bf16` is the same for the whole call, so those branches cost next to nothing next to the
  ;; arithmetic (bench/align.ts times this kernel against the JavaScript one).
  (func $apply (param $w i32) (param $d i32) (param $n i32) (param $s f64) (param $sums i32) (param $bf16 i32)
    (result i32)
    ;; $w and $d move to the next group of 4 weights and deltas; these stay.
    (local $first i32)      ;; $w at entry, to turn an address back into an element index
    (local $end i32)        ;; the address just past the last weight
    (local $shift i32)      ;; log2 of the element size: 2 (F32) or 1 (BF16)
    (local $step i32)       ;; bytes of 4 elements: 16 (F32) or 8 (BF16)
    (local $done i32)       ;; the result: n, or the index of the group left to JavaScript
    (local $strength v128)  ;; s in both f64 lanes
    (local $limit v128)     ;; outputs whose magnitude bits reach this are left to JavaScript
    ;; One group of 4: the inputs and output as f32x4 (BF16 widened to binary32 bits), and their f64 halves
    ;; (lanes 0-1 in *_lo, lanes 2-3 in *_hi).
    (local $w4 v128)
    (local $d4 v128)
    (local $out v128)
    (local $w_lo v128)
    (local $w_hi v128)
    (local $delta_lo v128)
    (local $delta_hi v128)
    (local $out_lo v128)
    (local $out_hi v128)
    (local $zero_delta v128) ;; all ones in the lanes whose delta is 0 (+0 or -0)
    ;; Running over the call: f64x2 sums, reduced to one f64 each at the end, and a mask of the changed lanes.
    (local $sum_delta2 v128)
    (local $sum_dot v128)
    (local $sum_w2 v128)
    (local $sum_out2 v128)
    (local $changed v128)

    (local.set $strength (f64x2.splat (local.get $s)))
    (local.set $first (local.get $w))
    (local.set $done (local.get $n))
    (local.set $shift (select (i32.const 1) (i32.const 2) (local.get $bf16)))
    (local.set $step (i32.shl (i32.const 4) (local.get $shift)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (local.get $shift))))
    ;; 0x7f800000 is +Inf in binary32: at or above it, the output is Inf or NaN. For BF16, 0x7f7f8000 is halfway
    ;; between the largest BF16 (0x7f7f) and Inf (0x7f80): ties go to the even one, Inf, so from there up the BF16
    ;; output is Inf.
    (local.set $limit
      (i32x4.splat (select (i32.const 0x7f7f8000) (i32.const 0x7f800000) (local.get $bf16))))

    (block $stop
      (loop $next_group
        (br_if $stop (i32.ge_u (local.get $w) (local.get $end)))

        ;; Load 4 weights and 4 deltas as binary32 bits: BF16 is the high half of a binary32, so widen each
        ;; 16-bit value to 32 bits and shift it up (exact).
        (if (local.get $bf16)
          (then
            (local.set $w4 (i32x4.shl (v128.load16x4_u align=2 (local.get $w)) (i32.const 16)))
            (local.set $d4 (i32x4.shl (v128.load16x4_u align=2 (local.get $d)) (i32.const 16))))
          (else
            (local.set $w4 (v128.load align=4 (local.get $w)))
            (local.set $d4 (v128.load align=4 (local.get $d)))))

        ;; To f64 (exact), as JavaScript computes: lanes 2-3 are moved down for promote_low, which reads lanes 0-1.
        (local.set $w_lo (f64x2.promote_low_f32x4 (local.get $w4)))
        (local.set $w_hi
          (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $w4) (local.get $w4))))
        ;; delta = s * d, rounded once, in f64.
        (local.set $delta_lo (f64x2.mul (f64x2.promote_low_f32x4 (local.get $d4)) (local.get $strength)))
        (local.set $delta_hi
          (f64x2.mul
            (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $d4) (local.get $d4)))
            (local.get $strength)))

        ;; The lanes whose delta is 0 keep their bits (below). The two f64x2 masks become one i32x4 mask: the
        ;; low 32 bits of each 64-bit lane (all ones or all zeros).
        (local.set $zero_delta
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
            (f64x2.eq (local.get $delta_lo) (f64x2.splat (f64.const 0)))
            (f64x2.eq (local.get $delta_hi) (f64x2.splat (f64.const 0)))))

        ;; out = binary32(w + delta): an f64 add, then demote (round to nearest, ties to even) as Math.fround
        ;; does. demote fills lanes 0-1 and zeroes 2-3; the two halves are joined back into one f32x4.
        (local.set $out
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.add (local.get $w_lo) (local.get $delta_lo)))
            (f32x4.demote_f64x2_zero (f64x2.add (local.get $w_hi) (local.get $delta_hi)))))

        ;; A group with an output that is NaN or +-Inf (or rounds to Inf in BF16) goes to JavaScript: stop here,
        ;; with nothing of the group written or summed. (Checked before the zero-delta lanes are restored, so a
        ;; NaN or Inf weight goes there too, even with a zero delta: JavaScript keeps its payload.)
        (if (v128.any_true
              (i32x4.ge_u (v128.and (local.get $out) (i32x4.splat (i32.const 0x7fffffff))) (local.get $limit)))
          (then
            (local.set $done (i32.shr_u (i32.sub (local.get $w) (local.get $first)) (local.get $shift)))
            (br $stop)))

        ;; BF16: round the binary32 bits x to 16 bits, to nearest, ties to even, as align-kernel.js does:
        ;; (x + 0x7fff + ((x >> 16) & 1)) >> 16, then shift back up to binary32 bits. x is finite here, so this
        ;; never carries into the sign.
        (if (local.get $bf16)
          (then
            (local.set $out
              (i32x4.shl
                (i32x4.shr_u
                  (i32x4.add
                    (i32x4.add (local.get $out) (i32x4.splat (i32.const 0x7fff)))
                    (v128.and (i32x4.shr_u (local.get $out) (i32.const 16)) (i32x4.splat (i32.const 1))))
                  (i32.const 16))
                (i32.const 16)))))

        ;; Lanes with a zero delta keep the weight's bits exactly.
        (local.set $out (v128.bitselect (local.get $w4) (local.get $out) (local.get $zero_delta)))
        ;; changed |= out != w, compared as floats (so -0 equals +0, as in JavaScript), on the other lanes.
        (local.set $changed
          (v128.or (local.get $changed)
            (v128.andnot (f32x4.ne (local.get $out) (local.get $w4)) (local.get $zero_delta))))

        ;; The sums, in f64 pairs: lanes 0-1 are added before lanes 2-3.
        (local.set $out_lo (f64x2.promote_low_f32x4 (local.get $out)))
        (local.set $out_hi
          (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $out) (local.get $out))))
        (local.set $sum_delta2
          (f64x2.add
            (f64x2.add (local.get $sum_delta2) (f64x2.mul (local.get $delta_lo) (local.get $delta_lo)))
            (f64x2.mul (local.get $delta_hi) (local.get $delta_hi))))
        (local.set $sum_dot
          (f64x2.add
            (f64x2.add (local.get $sum_dot) (f64x2.mul (local.get $w_lo) (local.get $out_lo)))
            (f64x2.mul (local.get $w_hi) (local.get $out_hi))))
        (local.set $sum_w2
          (f64x2.add
            (f64x2.add (local.get $sum_w2) (f64x2.mul (local.get $w_lo) (local.get $w_lo)))
            (f64x2.mul (local.get $w_hi) (local.get $w_hi))))
        (local.set $sum_out2
          (f64x2.add
            (f64x2.add (local.get $sum_out2) (f64x2.mul (local.get $out_lo) (local.get $out_lo)))
            (f64x2.mul (local.get $out_hi) (local.get $out_hi))))

        ;; Store the 4 outputs. BF16: the high half of each lane, narrowed to 16 bits (the values fit, so the
        ;; saturation never applies), and the low 8 bytes stored.
        (if (local.get $bf16)
          (then
            (v128.store64_lane align=2 0
              (local.get $w)
              (i16x8.narrow_i32x4_u
                (i32x4.shr_u (local.get $out) (i32.const 16))
                (i32x4.shr_u (local.get $out) (i32.const 16)))))
          (else
            (v128.store align=4 (local.get $w) (local.get $out))))

        (local.set $w (i32.add (local.get $w) (local.get $step)))
        (local.set $d (i32.add (local.get $d) (local.get $step)))
        (br $next_group)))

    ;; Each sum out as lane 0 + lane 1; `changed` as 1 or 0.
    (f64.store offset=0 (local.get $sums)
      (f64.add (f64x2.extract_lane 0 (local.get $sum_delta2)) (f64x2.extract_lane 1 (local.get $sum_delta2))))
    (f64.store offset=8 (local.get $sums)
      (f64.add (f64x2.extract_lane 0 (local.get $sum_dot)) (f64x2.extract_lane 1 (local.get $sum_dot))))
    (f64.store offset=16 (local.get $sums)
      (f64.add (f64x2.extract_lane 0 (local.get $sum_w2)) (f64x2.extract_lane 1 (local.get $sum_w2))))
    (f64.store offset=24 (local.get $sums)
      (f64.add (f64x2.extract_lane 0 (local.get $sum_out2)) (f64x2.extract_lane 1 (local.get $sum_out2))))
    (f64.store offset=32 (local.get $sums) (f64.convert_i32_u (v128.any_true (local.get $changed))))
    (local.get $done)))
