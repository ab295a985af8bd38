package org.rlhfstream.model.generate;

import java.util.Set;

/**
 * How {@link Generator} picks tokens.
 *
 * @param maxNewTokens length limit on the new tokens (also cut at the model's context)
 * @param greedy take the most likely token (temperature, top-k, top-p and seed are then unused)
 * @param temperature logits are divided by it before sampling; must be positive
 * @param topK keep the k most likely tokens; 0 keeps all
 * @param topP keep the smallest set of tokens whose probability reaches p (nucleus); 1 keeps all
 * @param seed seeds the generator's own random stream: the same seed gives the same tokens
 * @param stopTokens a sequence ends after producing one of these (it is kept in the output)
 */
public record SamplingConfig(
    int maxNewTokens, boolean greedy, double temperature, int topK, double topP, long seed, Set<Integer> stopTokens) {

  public SamplingConfig {
    if (maxNewTokens < 0) {
      throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
    }
    if (!(temperature > 0)) {
      throw new IllegalArgumentException("temperature must be positive, got " + temperature);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("topK must be >= 0, got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
    }
    stopTokens = Set.copyOf(stopTokens);
  }

  public static SamplingConfig greedy(int maxNewTokens, Set<Integer> stopTokens) {
    return new SamplingConfig(maxNewTokens, true, 1.0, 0, 1.0, 0, stopTokens);
  }

  public static SamplingConfig sample(int maxNewTokens, double temperature, int topK, double topP, long seed,
      Set<Integer> stopTokens) {
    return new SamplingConfig(maxNewTokens, false, temperature, topK, topP, seed, stopTokens);
  }
}
