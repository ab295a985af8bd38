package org.rlhfstream.model.nativeops;

/**
 * The native entry points of the project's own operations, implemented in the bridge library
 * ({@code native/src/fastops.cc}) that DJL loads as its PyTorch JNI library. JNI resolves them
 * lazily from the libraries loaded by this class's class loader, so they bind only when the bridge
 * is the loaded library; with DJL's stock library the first call throws {@link UnsatisfiedLinkError}
 * ({@link FastOps#available()} checks that once). Handles are DJL tensor handles
 * ({@code PtNDArray.getHandle()}): pointers to {@code at::Tensor}.
 *
 * <p>After changing a signature here, regenerate the JNI header: {@code native/tools/gen-jni-headers.sh}.
 */
final class FastOpsNative {
  private FastOpsNative() {}

  /** {@code key=value} lines: bridge version, PyTorch version, CUDA devices, SDPA backends. */
  static native String info();

  /**
   * Scaled dot-product attention (PyTorch's flash / memory-efficient / math kernels).
   *
   * @param mask additive mask handle, 0 for none
   * @param causal apply the causal mask (queries and keys aligned at the start; only when T == S)
   * @param scale softmax scale; NaN for 1/sqrt(head_dim)
   */
  static native long sdpa(long q, long k, long v, long mask, boolean causal, double scale);

  /** A differentiable cast to a DJL DataType ordinal. */
  static native long cast(long x, int dataType);

  static native void setTf32(boolean enabled);

  static native boolean tf32();

  /**
   * One AdamW step over several parameters (torch.optim.AdamW semantics), fused where PyTorch
   * has the kernel. Parameters without a gradient are skipped; with zeroGrad the gradients are
   * zeroed afterwards.
   */
  static native void adamw(long[] params, long[] expAvg, long[] expAvgSq, long step, double lr, double beta1,
      double beta2, double eps, double weightDecay, boolean zeroGrad);

  /**
   * Scales the gradients of {@code params} so that their global L2 norm is at most maxNorm
   * (torch.nn.utils.clip_grad_norm_); returns a handle to the norm before clipping (a float32
   * scalar on the parameters' device), computed without leaving the device.
   */
  static native long clipGradNorm(long[] params, double maxNorm);

  /** RMSNorm as Hugging Face computes it: in float32, cast back, times the weight. */
  static native long rmsNorm(long x, long weight, double eps);

  /**
   * A linear layer with a LoRA update: {@code x·Wᵀ + b + scaling · (dropout(x)·A'ᵀ)·B'ᵀ}, where A'
   * and B' are A and B in x's type (differentiable casts), plus residual. bias 0 for none; a = 0 for
   * no adapter; residual 0 for none.
   */
  static native long loraLinear(long x, long weight, long bias, long a, long b, double scaling, double dropout,
      boolean training, long residual);

  /** Rotary embedding {@code x·cos + rotate_half(x)·sin}, rotate_half(x) = cat(−x₂, x₁) on the last axis. */
  static native long rotary(long x, long cos, long sin);

  /** SwiGLU: {@code silu(gate) · up}. */
  static native long swiglu(long gate, long up);

  /** Zeroes the gradients of the parameters that have one (one kernel per list where PyTorch can). */
  static native void zeroGrads(long[] params);

  /** Waits for the device's queued work (no-op on the CPU). */
  static native void synchronize();

  /** {allocated, peak allocated, reserved, peak reserved} bytes of CUDA device {@code device}, or null. */
  static native long[] memoryStats(int device);

  static native void resetPeakMemory(int device);
}
