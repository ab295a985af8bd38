package org.rlhfstream.model.lora;

import java.util.List;
import java.util.Set;

/**
 * A LoRA adapter's shape, with PEFT's meaning for each field ({@code adapter_config.json}).
 *
 * @param rank r: the inner width of the low-rank update B·A
 * @param alpha lora_alpha: the update is scaled by alpha / r (alpha / sqrt(r) with rsLoRA)
 * @param dropout lora_dropout: dropout on the adapter's input, in training only
 * @param targetModules module names that get an adapter: q_proj, k_proj, v_proj, o_proj,
 *     gate_proj, up_proj, down_proj
 * @param rsLora use_rslora: scale by alpha / sqrt(r), which keeps the update's size stable as r grows
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targetModules, boolean rsLora) {

  /** Projection names an adapter can target. */
  public static final Set<String> TARGETABLE =
      Set.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

  public LoraConfig {
    if (rank < 1) {
      throw new IllegalArgumentException("LoRA rank must be >= 1, got " + rank);
    }
    if (!(alpha > 0)) {
      throw new IllegalArgumentException("LoRA alpha must be positive, got " + alpha);
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
    }
    targetModules = List.copyOf(new java.util.TreeSet<>(targetModules)); // canonical order: PEFT writes a set
    if (targetModules.isEmpty()) {
      throw new IllegalArgumentException("LoRA needs at least one target module");
    }
    for (String m : targetModules) {
      if (!TARGETABLE.contains(m)) {
        throw new IllegalArgumentException("LoRA target module '" + m + "' is not one of " + TARGETABLE);
      }
    }
  }

  /** The factor applied to B·A·x. */
  public double scaling() {
    return rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
  }

  /** The common choice for PPO on small models: r=8, alpha=16, on the attention q and v. */
  public static LoraConfig defaults() {
    return new LoraConfig(8, 16, 0.0, List.of("q_proj", "v_proj"), false);
  }
}
