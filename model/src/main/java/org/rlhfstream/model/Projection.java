package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import org.rlhfstream.model.nativeops.FastOps;

/**
 * One linear layer of the decoder ({@code y = x·Wᵀ + b}) with an optional LoRA adapter on it:
 * {@code y += scaling · B·A·dropout(x)}. The frozen base weight is never copied: switching the
 * adapter off gives the base model (PPO's reference) from the same memory.
 */
public final class Projection {
  /** The module path in the checkpoint, e.g. {@code model.layers.0.self_attn.q_proj}. */
  private final String name;

  private final NDArray weight; // (out, in)
  private final NDArray bias; // (out) or null
  private NDArray loraA; // (r, in) or null
  private NDArray loraB; // (out, r) or null
  private double scaling;
  private double dropout;
  private boolean merged;

  Projection(String name, NDArray weight, NDArray bias) {
    this.name = name;
    this.weight = weight;
    this.bias = bias;
  }

  public String name() {
    return name;
  }

  public NDArray weight() {
    return weight;
  }

  public NDArray bias() {
    return bias;
  }

  public NDArray loraA() {
    return loraA;
  }

  public NDArray loraB() {
    return loraB;
  }

  public boolean hasLora() {
    return loraA != null;
  }

  public boolean merged() {
    return merged;
  }

  /** Shorthand for the short module name ({@code q_proj}). */
  public String moduleName() {
    return name.substring(name.lastIndexOf('.') + 1);
  }

  public long inFeatures() {
    return weight.getShape().get(1);
  }

  public long outFeatures() {
    return weight.getShape().get(0);
  }

  void attachLora(NDArray a, NDArray b, double scaling, double dropout) {
    if (merged) {
      throw new IllegalStateException(name + ": unmerge the adapter before replacing it");
    }
    // Re-installing the same arrays (to change scaling or dropout) must not free them.
    if (loraA != null && loraA != a) {
      loraA.close();
    }
    if (loraB != null && loraB != b) {
      loraB.close();
    }
    this.loraA = a;
    this.loraB = b;
    this.scaling = scaling;
    this.dropout = dropout;
  }

  void closeLora() {
    if (loraA != null) {
      loraA.close();
      loraB.close();
    }
    loraA = null;
    loraB = null;
  }

  /**
   * @param x {@code (…, in)}
   * @param adapter apply the LoRA update (ignored when there is none)
   * @param training dropout on the adapter input
   * @return {@code (…, out)}
   */
  NDArray apply(NDArray x, boolean adapter, boolean training) {
    return apply(x, adapter, training, null);
  }

  /**
   * As {@link #apply(NDArray, boolean, boolean)}, plus {@code residual} (same shape as the output):
   * the matrix product accumulates into it, sparing a separate addition.
   */
  NDArray apply(NDArray x, boolean adapter, boolean training, NDArray residual) {
    if (merged && !adapter) {
      throw new IllegalStateException(name + ": the adapter is merged into the weight; unmerge it to switch it off");
    }
    boolean withAdapter = loraA != null && adapter && !merged;
    // Under mixed precision the adapter is float32 (the master copy) and computes in x's type.
    return FastOps.loraLinear(x, weight, bias, withAdapter ? loraA : null, withAdapter ? loraB : null, scaling,
        dropout, training, residual);
  }

  /** W += scaling·B·A, in place; the adapter then costs nothing at inference. */
  void merge() {
    if (loraA == null || merged) {
      return;
    }
    try (NDArray delta = loraB.matMul(loraA).muli(scaling)) {
      weight.addi(delta);
    }
    merged = true;
  }

  /** W -= scaling·B·A, undoing {@link #merge()} (up to float rounding). */
  void unmerge() {
    if (loraA == null || !merged) {
      return;
    }
    try (NDArray delta = loraB.matMul(loraA).muli(scaling)) {
      weight.subi(delta);
    }
    merged = false;
  }
}
