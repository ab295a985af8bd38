package org.rlhfstream.model;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Scores (prompt, response) pairs with a reward model. The {@code reward} service implements it
 * in-process and serves it over HTTP; {@code policy} consumes it through this interface (an HTTP
 * client implementation when the reward service runs elsewhere).
 */
public interface RewardScorer {

  /** A prompt and one response to it, as text. */
  record Pair(String prompt, String response) {
    public Pair {
      if (prompt == null || response == null) {
        throw new IllegalArgumentException("prompt and response must not be null");
      }
    }
  }

  /** The scores of a batch, in order, and which reward-model version gave them. */
  record Scores(List<Float> scores, String rewardModelVersion) {
    public Scores {
      scores = List.copyOf(scores);
    }
  }

  /** Scores a batch; completes exceptionally when the model cannot score (not loaded, bad input). */
  CompletionStage<Scores> score(List<Pair> pairs);
}
