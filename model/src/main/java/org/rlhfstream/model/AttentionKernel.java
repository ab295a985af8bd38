package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

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
   * Matmuls and a softmax, as Hugging Face's eager attention. Grouped-query attention without
   * copying K/V: the query heads that share a K/V head are folded into the row dimension, so one
   * batched matmul serves the whole group.
   */
  AttentionKernel COMPOSED = (q, k, v, mask) -> {
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
    NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2)); // (B, kv, g*T, S)
    scores = scores.reshape(b, kvHeads, groups, t, s).add(mask.expandDims(1)); // (B, kv, g, T, S)
    NDArray probs = scores.softmax(-1).reshape(b, kvHeads, groups * t, s);
    return probs.matMul(v).reshape(b, heads, t, headDim); // (B, heads, T, hd)
  };
}
