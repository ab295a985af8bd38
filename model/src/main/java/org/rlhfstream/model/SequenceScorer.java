package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/** Batched scoring of token sequences with a sequence-classification (reward) model, label 0. */
public final class SequenceScorer {
  private SequenceScorer() {}

  /**
   * Right-pads with the pad token and takes the score at the last non-pad token, as Hugging Face
   * does. Without a pad token in the config, sequences are scored one at a time.
   */
  public static float[] score(DecoderModel model, List<int[]> sequences, boolean adapter) {
    ModelConfig c = model.config();
    if (c.head() != ModelConfig.Head.SEQUENCE_CLASSIFICATION) {
      throw new ModelInputException("model is a " + c.architecture() + ", not a sequence classification (reward) model");
    }
    float[] out = new float[sequences.size()];
    if (c.padTokenId() < 0) {
      for (int i = 0; i < sequences.size(); i++) {
        out[i] = score(model, List.of(sequences.get(i)), adapter)[0];
      }
      return out;
    }
    int longest = 0;
    for (int[] s : sequences) {
      if (s.length == 0) {
        throw new ModelInputException("cannot score an empty sequence");
      }
      for (int id : s) {
        if (id < 0 || id >= c.vocabSize()) {
          throw new ModelInputException("token id " + id + " is outside the vocabulary (0.." + (c.vocabSize() - 1) + ")");
        }
      }
      longest = Math.max(longest, s.length);
    }
    if (longest > c.maxPositions()) {
      throw new ModelInputException("sequence of " + longest + " tokens exceeds the model's context of "
          + c.maxPositions() + " tokens");
    }
    long[][] ids = new long[sequences.size()][longest];
    long[][] mask = new long[sequences.size()][longest];
    for (int i = 0; i < sequences.size(); i++) {
      java.util.Arrays.fill(ids[i], c.padTokenId());
      int[] s = sequences.get(i);
      for (int j = 0; j < s.length; j++) {
        ids[i][j] = s[j];
        mask[i][j] = 1;
      }
    }
    try (NoGrad ignored = NoGrad.enter(); NDManager step = model.manager().newSubManager()) {
      NDArray input = step.create(ids);
      NDArray scores = model.sequenceScores(input, step.create(mask), adapter);
      return scores.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
    }
  }
}
