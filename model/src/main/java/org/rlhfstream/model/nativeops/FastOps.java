package org.rlhfstream.model.nativeops;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operations DJL's API lacks, each with two paths: the native one in the rlhf-stream bridge
 * ({@code native/}, built against the host's PyTorch and loaded by DJL in place of its own JNI
 * library), and a plain composition of DJL operations that runs anywhere. The native path is taken
 * when {@link #available()}; setting the system property {@code rlhf.fastops=off} forces the
 * composed one (for comparisons).
 *
 * <p>Results land in the manager of the first array argument, as DJL's own operations do.
 */
public final class FastOps {
  private static final Logger LOG = LoggerFactory.getLogger(FastOps.class);

  private static volatile Boolean available;

  private FastOps() {}

  /** Whether the bridge is DJL's loaded native library (loads the engine on first call). */
  public static boolean available() {
    Boolean a = available;
    if (a == null) {
      synchronized (FastOps.class) {
        a = available;
        if (a == null) {
          a = probe();
          available = a;
        }
      }
    }
    return a && !"off".equalsIgnoreCase(System.getProperty("rlhf.fastops"));
  }

  private static boolean probe() {
    try {
      Engine.getEngine("PyTorch");
      FastOpsNative.info();
      return true;
    } catch (UnsatisfiedLinkError e) {
      LOG.debug("native bridge not loaded ({}): composed fallbacks in use", e.getMessage());
      return false;
    }
  }

  /**
   * What the bridge reports: {@code bridge}, {@code torch}, {@code cuda_available}, {@code cudaN}
   * (device name, compute capability, memory), {@code sdpa} (enabled kernels), {@code fused_adamw},
   * {@code tf32}, {@code memory_stats}; empty without the bridge.
   */
  public static Map<String, String> info() {
    Map<String, String> out = new LinkedHashMap<>();
    if (!available()) {
      return out;
    }
    for (String line : FastOpsNative.info().split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        out.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Attention.

  /**
   * Scaled dot-product attention with grouped-query heads.
   *
   * @param q {@code (B, heads, T, head_dim)}
   * @param k {@code (B, kv_heads, S, head_dim)}, heads a multiple of kv_heads
   * @param v {@code (B, kv_heads, S, head_dim)}
   * @param mask additive {@code (B or 1, 1, T, S)} mask, or null
   * @param causal mask out keys after each query, queries and keys aligned at position 0 (needs
   *     T == S; for decoding steps pass the mask instead)
   * @return {@code (B, heads, T, head_dim)}
   */
  public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal) {
    if (causal && q.getShape().get(2) != k.getShape().get(2)) {
      throw new IllegalArgumentException("causal attention needs as many queries as keys; pass a mask for decoding");
    }
    if (available()) {
      long m = mask == null ? 0 : handle(mask);
      return result(q, FastOpsNative.sdpa(handle(q), handle(k), handle(v), m, causal, Double.NaN));
    }
    return composedAttention(q, k, v, mask, causal);
  }

  /**
   * The attention of Hugging Face's eager implementation: matmuls and a float32 softmax. Grouped
   * query heads are folded into the row dimension, so the shared K/V heads are not copied.
   */
  public static NDArray composedAttention(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal) {
    Shape qs = q.getShape();
    long b = qs.get(0);
    long heads = qs.get(1);
    long t = qs.get(2);
    long headDim = qs.get(3);
    long kvHeads = k.getShape().get(1);
    long s = k.getShape().get(2);
    long groups = heads / kvHeads;
    double scale = 1.0 / Math.sqrt(headDim);

    NDArray qg = q.mul(scale).reshape(b, kvHeads, groups * t, headDim); // (B, kv, g*T, hd)
    NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2)).reshape(b, kvHeads, groups, t, s); // (B, kv, g, T, S)
    if (mask != null) {
      scores = scores.add(mask.expandDims(1));
    }
    if (causal) {
      NDArray query = q.getManager().arange(0L, t, 1L, DataType.INT64).reshape(t, 1);
      NDArray key = q.getManager().arange(0L, s, 1L, DataType.INT64).reshape(1, s);
      NDArray future = key.gt(query).toType(scores.getDataType(), false).mul(-1e30f); // (T, S)
      scores = scores.add(future);
    }
    NDArray probs = cast(atLeastFloat32(scores).softmax(-1), q.getDataType()); // softmax in float32, as HF
    return probs.reshape(b, kvHeads, groups * t, s).matMul(v).reshape(b, heads, t, headDim); // (B, heads, T, hd)
  }

  // ---------------------------------------------------------------------------------------------
  // Casts and norms.

  /**
   * {@code x} as {@code type}, with the gradient flowing back through the cast (DJL's {@code
   * toType} cuts the graph). The way mixed precision works: float32 master weights cast to bf16
   * for compute, bf16 activations cast to float32 for norms, softmax and the loss.
   *
   * <p>Without the bridge, a widening cast is done by type promotion (differentiable); a narrowing
   * cast of an array that needs a gradient is refused, since DJL's stock library cannot do it.
   */
  public static NDArray cast(NDArray x, DataType type) {
    if (x.getDataType() == type) {
      return x;
    }
    if (available()) {
      return result(x, FastOpsNative.cast(handle(x), type.ordinal()));
    }
    if (type.getNumOfBytes() > x.getDataType().getNumOfBytes() && type.isFloating()) {
      // Promotion keeps the graph: x · 1 with a 1 of the wider type. The 1 has x's rank (sizes 1),
      // since a 0-dimensional operand would not promote a float tensor; a scalar x is lifted to
      // rank 1 and back.
      int rank = x.getShape().dimension();
      long[] ones = new long[Math.max(1, rank)];
      java.util.Arrays.fill(ones, 1);
      NDArray one = x.getManager().ones(new Shape(ones), type);
      return rank == 0 ? x.reshape(1).mul(one).reshape(new Shape()) : x.mul(one);
    }
    if (JniUtils.isGradMode() && x.hasGradient()) {
      throw new UnsupportedOperationException("a differentiable cast from " + x.getDataType() + " to " + type
          + " needs the native bridge (native/build-bridge.sh)");
    }
    return x.toType(type, false);
  }

  /**
   * {@code x} widened to float32 when it is a 16-bit float (differentiably), else {@code x}: the
   * precision Hugging Face uses for norms, softmax and losses.
   */
  public static NDArray atLeastFloat32(NDArray x) {
    DataType t = x.getDataType();
    return t == DataType.FLOAT16 || t == DataType.BFLOAT16 ? cast(x, DataType.FLOAT32) : x;
  }

  /**
   * RMSNorm as Hugging Face's Llama/Qwen2 computes it: normalized in (at least) float32, cast back
   * to the input's type, then scaled by the weight: {@code w · (x / sqrt(mean(x²) + eps))}.
   *
   * @param x {@code (…, hidden)}
   * @param weight {@code (hidden)}
   */
  public static NDArray rmsNorm(NDArray x, NDArray weight, double eps) {
    if (available()) {
      return result(x, FastOpsNative.rmsNorm(handle(x), handle(weight), eps));
    }
    return composedRmsNorm(x, weight, eps);
  }

  public static NDArray composedRmsNorm(NDArray x, NDArray weight, double eps) {
    NDArray x32 = atLeastFloat32(x);
    NDArray rms = x32.square().mean(new int[] {-1}, true).add(eps).sqrt();
    // x's normalized value first: results land in the first operand's manager (the step's, not the
    // model's, where the weight lives).
    return cast(x32.div(rms), x.getDataType()).mul(weight);
  }

  // ---------------------------------------------------------------------------------------------
  // Layers of the decoder, one native call each (fewer JNI calls and Java objects per step).

  /**
   * A linear layer with an optional LoRA update: {@code x·Wᵀ + b + scaling · (dropout(x)·Aᵀ)·Bᵀ},
   * the adapter computing in x's type (a float32 adapter is cast, differentiably).
   *
   * @param x {@code (…, in)}
   * @param weight {@code (out, in)}
   * @param bias {@code (out)} or null
   * @param a {@code (r, in)} or null for no adapter
   * @param b {@code (out, r)}
   * @param dropout on the adapter input, when training
   * @return {@code (…, out)}
   */
  public static NDArray loraLinear(NDArray x, NDArray weight, NDArray bias, NDArray a, NDArray b, double scaling,
      double dropout, boolean training) {
    return loraLinear(x, weight, bias, a, b, scaling, dropout, training, null);
  }

  /**
   * As above, plus {@code residual} {@code (…, out)} added to the result (or null): with the bridge
   * the matrix product accumulates into it (a residual connection without a separate addition).
   */
  public static NDArray loraLinear(NDArray x, NDArray weight, NDArray bias, NDArray a, NDArray b, double scaling,
      double dropout, boolean training, NDArray residual) {
    if (available()) {
      return result(x, FastOpsNative.loraLinear(handle(x), handle(weight), bias == null ? 0 : handle(bias),
          a == null ? 0 : handle(a), a == null ? 0 : handle(b), scaling, dropout, training,
          residual == null ? 0 : handle(residual)));
    }
    NDArray y = composedLoraLinear(x, weight, bias, a, b, scaling, dropout, training);
    return residual == null ? y : residual.add(y);
  }

  public static NDArray composedLoraLinear(NDArray x, NDArray weight, NDArray bias, NDArray a, NDArray b,
      double scaling, double dropout, boolean training) {
    NDArray y = ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    if (a == null) {
      return y;
    }
    NDArray h = training && dropout > 0 ? ai.djl.nn.norm.Dropout.dropout(x, (float) dropout).singletonOrThrow() : x;
    NDArray down = ai.djl.nn.core.Linear.linear(h, cast(a, x.getDataType())).singletonOrThrow(); // (…, r)
    NDArray up = ai.djl.nn.core.Linear.linear(down, cast(b, x.getDataType())).singletonOrThrow(); // (…, out)
    return y.add(up.mul(scaling));
  }

  /**
   * Rotary position embedding: {@code x·cos + rotate_half(x)·sin} with rotate_half(x) = cat(−x₂, x₁)
   * over the last axis (the two halves share a frequency, as in Hugging Face's Llama).
   */
  public static NDArray rotary(NDArray x, NDArray cos, NDArray sin) {
    if (available()) {
      return result(x, FastOpsNative.rotary(handle(x), handle(cos), handle(sin)));
    }
    return composedRotary(x, cos, sin);
  }

  public static NDArray composedRotary(NDArray x, NDArray cos, NDArray sin) {
    int last = x.getShape().dimension() - 1; // DJL's split takes no negative axis
    NDList halves = x.split(2, last);
    NDArray rotated = halves.get(1).neg().concat(halves.get(0), last);
    return x.mul(cos).add(rotated.mul(sin));
  }

  /** SwiGLU's gate: {@code silu(gate) · up}. */
  public static NDArray swiglu(NDArray gate, NDArray up) {
    if (available()) {
      return result(gate, FastOpsNative.swiglu(handle(gate), handle(up)));
    }
    return composedSwiglu(gate, up);
  }

  public static NDArray composedSwiglu(NDArray gate, NDArray up) {
    return ai.djl.nn.Activation.sigmoid(gate).mul(gate).mul(up);
  }

  // ---------------------------------------------------------------------------------------------
  // Optimizer.

  /**
   * One AdamW step (torch.optim.AdamW) over {@code params}, using their accumulated gradients;
   * parameters without a gradient are skipped. Fused into one kernel launch per tensor list where
   * PyTorch has the kernel (CUDA; CPU from PyTorch 2.4).
   *
   * @param expAvg first moments, one per parameter, float32 or the parameter's type
   * @param expAvgSq second moments
   * @param step the step number t ≥ 1 of the bias corrections
   * @param zeroGrad zero the gradients afterwards
   */
  public static void adamw(List<NDArray> params, List<NDArray> expAvg, List<NDArray> expAvgSq, long step, double lr,
      double beta1, double beta2, double eps, double weightDecay, boolean zeroGrad) {
    if (params.size() != expAvg.size() || params.size() != expAvgSq.size()) {
      throw new IllegalArgumentException("one exp_avg and one exp_avg_sq per parameter");
    }
    if (step < 1) {
      throw new IllegalArgumentException("step starts at 1, got " + step);
    }
    if (params.isEmpty()) {
      return;
    }
    if (available()) {
      FastOpsNative.adamw(handles(params), handles(expAvg), handles(expAvgSq), step, lr, beta1, beta2, eps,
          weightDecay, zeroGrad);
      return;
    }
    composedAdamw(params, expAvg, expAvgSq, step, lr, beta1, beta2, eps, weightDecay, zeroGrad);
  }

  public static void composedAdamw(List<NDArray> params, List<NDArray> expAvg, List<NDArray> expAvgSq, long step,
      double lr, double beta1, double beta2, double eps, double weightDecay, boolean zeroGrad) {
    double bc1 = 1 - Math.pow(beta1, step);
    double sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, step));
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      for (int i = 0; i < params.size(); i++) {
        NDArray p = params.get(i);
        PtNDArray g = JniUtils.getGradient((PtNDArray) p);
        if (g == null) {
          continue;
        }
        try (PtNDManager scope = (PtNDManager) p.getManager().newSubManager()) {
          g.attach(scope);
          NDArray m = expAvg.get(i);
          NDArray v = expAvgSq.get(i);
          NDArray g32 = g.toType(m.getDataType(), false);
          if (weightDecay != 0) {
            p.muli(1 - lr * weightDecay);
          }
          m.muli(beta1).addi(g32.mul(1 - beta1));
          v.muli(beta2).addi(g32.square().muli(1 - beta2));
          NDArray denom = v.sqrt();
          denom.attach(scope);
          NDArray update = m.div(denom.divi(sqrtBc2).addi(eps));
          update.attach(scope);
          p.subi(update.muli(lr / bc1).toType(p.getDataType(), false));
          if (zeroGrad) {
            JniUtils.zeroGrad((PtNDArray) p);
          }
        }
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  /** Zeroes the gradients of {@code params} (those that have one). */
  public static void zeroGrads(List<NDArray> params) {
    if (available()) {
      FastOpsNative.zeroGrads(handles(params));
      return;
    }
    for (NDArray p : params) {
      JniUtils.zeroGrad((PtNDArray) p);
    }
  }

  /**
   * Clips the gradients of {@code params} to a global L2 norm of at most {@code maxNorm}
   * (torch.nn.utils.clip_grad_norm_: factor min(1, maxNorm / (norm + 1e-6))) on the device.
   *
   * @return the norm before clipping, a float32 scalar in the first parameter's manager (close it)
   */
  public static NDArray clipGradNorm(List<NDArray> params, double maxNorm) {
    if (!(maxNorm > 0)) {
      throw new IllegalArgumentException("maxNorm must be positive, got " + maxNorm);
    }
    if (available()) {
      return result(params.get(0), FastOpsNative.clipGradNorm(handles(params), maxNorm));
    }
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (PtNDManager scope = (PtNDManager) params.get(0).getManager().newSubManager()) {
      NDList grads = new NDList();
      NDArray sumSq = null;
      for (NDArray p : params) {
        PtNDArray g = JniUtils.getGradient((PtNDArray) p);
        if (g == null) {
          continue;
        }
        g.attach(scope);
        grads.add(g);
        NDArray s = g.toType(DataType.FLOAT32, true).square().sum();
        sumSq = sumSq == null ? s : sumSq.add(s);
      }
      if (sumSq == null) {
        throw new IllegalArgumentException("no parameter has a gradient");
      }
      NDArray norm = sumSq.sqrt();
      NDArray coef = norm.add(1e-6).pow(-1).mul(maxNorm).minimum(1.0);
      for (NDArray g : grads) {
        g.muli(coef.toType(g.getDataType(), false));
      }
      norm.attach(params.get(0).getManager());
      return norm;
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Device settings and measurements.

  /**
   * TensorFloat-32 for float32 matrix products and convolutions on CUDA (about 8× the float32
   * rate, ~1e-3 relative error). Off unless turned on; a no-op without the bridge.
   */
  public static void setTf32(boolean enabled) {
    if (available()) {
      FastOpsNative.setTf32(enabled);
    }
  }

  public static boolean tf32() {
    return available() && FastOpsNative.tf32();
  }

  /** Waits until the GPU has run everything queued (for timing); a no-op on the CPU. */
  public static void synchronize() {
    if (available()) {
      FastOpsNative.synchronize();
    }
  }

  /** CUDA memory of a device, as PyTorch's caching allocator counts it. */
  public record Memory(long allocated, long peakAllocated, long reserved, long peakReserved) {}

  /** The CUDA memory figures of {@code device}, or null where the bridge or PyTorch cannot tell. */
  public static Memory memory(int device) {
    if (!available()) {
      return null;
    }
    long[] m = FastOpsNative.memoryStats(device);
    return m == null ? null : new Memory(m[0], m[1], m[2], m[3]);
  }

  public static void resetPeakMemory(int device) {
    if (available()) {
      FastOpsNative.resetPeakMemory(device);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static long handle(NDArray a) {
    if (!(a instanceof PtNDArray)) {
      throw new IllegalArgumentException("FastOps needs PyTorch-engine arrays, got " + a.getClass().getName());
    }
    return ((PtNDArray) a).getHandle();
  }

  private static long[] handles(List<NDArray> arrays) {
    long[] out = new long[arrays.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = handle(arrays.get(i));
    }
    return out;
  }

  private static NDArray result(NDArray firstOperand, long handle) {
    return new PtNDArray((PtNDManager) firstOperand.getManager(), handle);
  }
}
