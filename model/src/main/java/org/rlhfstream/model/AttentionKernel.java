package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import org.rlhfstream.model.nativeops.FastOps;

/**
 * Scaled dot-product attention: the one seam where a fast kernel (a native SDPA, flash attention)
 * can replace the composed version. Everything else in the model calls this.
 */
@FunctionalInterface
public interface AttentionKernel {

  /**
   * @param q queries {@code (B, heads, T, head_dim)}
   * @param k keys {@code (B, kv_heads, S, head_dim)}; heads is a multiple of kv_heads (GQA)
   * @param v values {@code (B, kv_heads, S, head_dim)}
   * @param mask additive mask {@code (B or 1, 1, T, S)}: 0 where allowed, a large negative number
   *     where not
   * @return {@code (B, heads, T, head_dim)}
   */
  NDArray apply(NDArray q, NDArray k, NDArray v, NDArray mask);

  /**
   * As {@link #apply(NDArray, NDArray, NDArray, NDArray)}, told whether the mask is exactly the
   * causal mask of a full pass (no padding, no cache, T == S), so that a kernel can apply
   * causality itself and skip the mask (flash attention takes no mask).
   */
  default NDArray apply(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causalOnly) {
    return apply(q, k, v, mask);
  }

  /**
   * Matmuls and a softmax, as Hugging Face's eager attention (the softmax in float32 for 16-bit
   * inputs). Grouped-query attention without copying K/V: the query heads that share a K/V head
   * are folded into the row dimension, so one batched matmul serves the whole group.
   */
  AttentionKernel COMPOSED = (q, k, v, mask) -> FastOps.composedAttention(q, k, v, mask, false);

  /**
   * PyTorch's scaled_dot_product_attention through the native bridge (flash, memory-efficient or
   * math kernel, as PyTorch picks); the composed version when the bridge is absent.
   */
  AttentionKernel SDPA = new AttentionKernel() {
    @Override
    public NDArray apply(NDArray q, NDArray k, NDArray v, NDArray mask) {
      return FastOps.attention(q, k, v, mask, false);
    }

    @Override
    public NDArray apply(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causalOnly) {
      return causalOnly ? FastOps.attention(q, k, v, null, true) : FastOps.attention(q, k, v, mask, false);
    }
  };

  /** SDPA when the native bridge is loaded, else COMPOSED: the default. */
  AttentionKernel AUTO = new AttentionKernel() {
    @Override
    public NDArray apply(NDArray q, NDArray k, NDArray v, NDArray mask) {
      return apply(q, k, v, mask, false);
    }

    @Override
    public NDArray apply(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causalOnly) {
      return FastOps.available() ? SDPA.apply(q, k, v, mask, causalOnly) : COMPOSED.apply(q, k, v, mask);
    }
  };

  /** A kernel by name: {@code auto}, {@code sdpa} or {@code eager} (composed). */
  static AttentionKernel byName(String name) {
    switch (name.toLowerCase(java.util.Locale.ROOT)) {
      case "auto":
        return AUTO;
      case "sdpa":
        return SDPA;
      case "eager":
      case "composed":
        return COMPOSED;
      default:
        throw new IllegalArgumentException("attention must be auto, sdpa or eager, got " + name);
    }
  }
}
