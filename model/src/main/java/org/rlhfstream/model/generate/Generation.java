package org.rlhfstream.model.generate;

/**
 * One generated sequence.
 *
 * @param promptIds the prompt as given (no padding)
 * @param newIds the generated tokens, a stop token included when one ended the sequence
 * @param logProbs per new token, {@code log softmax(logits / temperature)} at that token: the
 *     sampling distribution before top-k/top-p filtering (TRL's convention; greedy uses
 *     temperature 1). PPO's old log-probabilities.
 * @param stopped whether a stop token ended it (else the length limit did)
 */
public record Generation(int[] promptIds, int[] newIds, float[] logProbs, boolean stopped) {

  /** Prompt and new tokens in one array. */
  public int[] allIds() {
    int[] all = new int[promptIds.length + newIds.length];
    System.arraycopy(promptIds, 0, all, 0, promptIds.length);
    System.arraycopy(newIds, 0, all, promptIds.length, newIds.length);
    return all;
  }
}
