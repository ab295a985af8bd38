package org.rlhfstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.rlhfstream.model.NoGrad;
import org.rlhfstream.model.Parameter;
import org.rlhfstream.model.nativeops.FastOps;

/**
 * Gradient housekeeping that DJL leaves out: clipping by global norm ({@code optClipGrad} is an
 * elementwise clamp) and zeroing without walking every array of the process.
 */
public final class Gradients {
  private Gradients() {}

  /**
   * The gradient of {@code p}, attached to {@code scope} (DJL would otherwise attach the handle to
   * the parameter's long-lived manager, one leaked handle per call), or null when it has none yet.
   */
  public static NDArray of(Parameter p, NDManager scope) {
    if (!p.trainable()) {
      return null;
    }
    PtNDArray g = JniUtils.getGradient((PtNDArray) p.array());
    if (g == null) {
      return null;
    }
    g.attach(scope);
    return g;
  }

  /**
   * Scales all gradients so that their global L2 norm is at most {@code maxNorm}, as PyTorch's
   * {@code clip_grad_norm_}: factor min(1, maxNorm / (norm + 1e-6)), computed on the device.
   *
   * @return the global norm before clipping
   */
  public static float clipByGlobalNorm(List<Parameter> params, double maxNorm) {
    if (!(maxNorm > 0)) {
      throw new IllegalArgumentException("maxNorm must be positive, got " + maxNorm);
    }
    try (NoGrad ignored = NoGrad.enter(); NDManager scratch = managerOf(params).newSubManager()) {
      NDArray sumSq = null;
      java.util.List<NDArray> grads = new java.util.ArrayList<>();
      for (Parameter p : params) {
        NDArray g = of(p, scratch);
        if (g == null) {
          continue;
        }
        grads.add(g);
        NDArray s = g.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).square().sum();
        s.attach(scratch);
        sumSq = sumSq == null ? s : sumSq.add(s);
      }
      if (sumSq == null) {
        return 0f;
      }
      NDArray norm = sumSq.sqrt();
      NDArray scale = norm.add(1e-6).pow(-1).mul(maxNorm).clip(0, 1);
      for (NDArray g : grads) {
        g.muli(scale.toType(g.getDataType(), false));
      }
      return norm.getFloat();
    }
  }

  /** The global L2 norm of the gradients (no change). */
  public static float globalNorm(List<Parameter> params) {
    try (NoGrad ignored = NoGrad.enter(); NDManager scratch = managerOf(params).newSubManager()) {
      double sum = 0;
      for (Parameter p : params) {
        NDArray g = of(p, scratch);
        if (g != null) {
          sum += g.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).square().sum().getDouble();
        }
      }
      return (float) Math.sqrt(sum);
    }
  }

  /** Zeroes the gradients of {@code params} (they accumulate across backward passes until then). */
  public static void zero(List<Parameter> params) {
    if (FastOps.available()) {
      List<NDArray> trainable = new java.util.ArrayList<>();
      for (Parameter p : params) {
        if (p.trainable()) {
          trainable.add(p.array());
        }
      }
      FastOps.zeroGrads(trainable);
      return;
    }
    try (NoGrad ignored = NoGrad.enter()) {
      for (Parameter p : params) {
        if (!p.trainable()) {
          continue;
        }
        PtNDArray g = JniUtils.getGradient((PtNDArray) p.array());
        if (g != null) {
          g.close();
          JniUtils.zeroGrad((PtNDArray) p.array());
        }
      }
    }
  }

  static NDManager managerOf(List<Parameter> params) {
    if (params.isEmpty()) {
      throw new IllegalArgumentException("no parameters");
    }
    return params.get(0).array().getManager();
  }
}
