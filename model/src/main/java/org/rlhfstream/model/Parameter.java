package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;

/**
 * A named weight of a model. Base weights keep their checkpoint names ({@code
 * model.layers.0.self_attn.q_proj.weight}); LoRA weights are named after their module with PEFT's
 * suffix ({@code model.layers.0.self_attn.q_proj.lora_A.weight}); the PPO value head is {@code
 * v_head.summary.weight} / {@code .bias} as in TRL.
 */
public record Parameter(String name, NDArray array) {
  public Parameter {
    if (name == null || array == null) {
      throw new IllegalArgumentException("a parameter needs a name and an array");
    }
  }

  /** Whether autograd computes a gradient for it. */
  public boolean trainable() {
    return array.hasGradient();
  }

  public boolean isLora() {
    return name.contains(".lora_A.") || name.contains(".lora_B.");
  }

  public long size() {
    return array.getShape().size();
  }
}
