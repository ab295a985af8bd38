package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rlhfstream.model.generate.Generation;
import org.rlhfstream.model.generate.Generator;
import org.rlhfstream.model.generate.SamplingConfig;

class GenerationTest {
  static DecoderModel model;
  static DecoderModel adapted;
  static long[][] prompts;
  static long[][] greedy;
  static long[][] adapterGreedy;

  @BeforeAll
  static void load() throws Exception {
    model = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
    adapted = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
    adapted.loadAdapter(Reference.adapter());
    try (NDManager m = model.manager().newSubManager()) {
      prompts = toRows(Reference.golden("input_ids", m));
      greedy = toRows(Reference.golden("greedy", m));
      adapterGreedy = toRows(Reference.golden("adapter_greedy", m));
    }
  }

  @AfterAll
  static void close() {
    model.close();
    adapted.close();
  }

  static long[][] toRows(NDArray a) {
    int rows = (int) a.getShape().get(0);
    int cols = (int) a.getShape().get(1);
    long[] flat = a.toLongArray();
    long[][] out = new long[rows][cols];
    for (int i = 0; i < rows; i++) {
      System.arraycopy(flat, i * cols, out[i], 0, cols);
    }
    return out;
  }

  static List<int[]> promptList() {
    List<int[]> list = new ArrayList<>();
    for (long[] p : prompts) {
      list.add(Arrays.stream(p).mapToInt(x -> (int) x).toArray());
    }
    return list;
  }

  static int[] ints(long[] x) {
    return Arrays.stream(x).mapToInt(v -> (int) v).toArray();
  }

  @Test
  void greedyTokensMatchHuggingFace() {
    List<Generation> out = Generator.generate(model, promptList(), SamplingConfig.greedy(16, Set.of()), true);
    for (int i = 0; i < out.size(); i++) {
      assertArrayEquals(ints(greedy[i]), out.get(i).allIds(), "row " + i);
      assertEquals(16, out.get(i).logProbs().length);
    }
  }

  @Test
  void greedyTokensWithTheAdapterMatchPeft() {
    List<Generation> out = Generator.generate(adapted, promptList(), SamplingConfig.greedy(16, Set.of()), true);
    for (int i = 0; i < out.size(); i++) {
      assertArrayEquals(ints(adapterGreedy[i]), out.get(i).allIds(), "row " + i);
    }
    // Adapter off: the base model's tokens from the same weights.
    List<Generation> off = Generator.generate(adapted, promptList(), SamplingConfig.greedy(16, Set.of()), false);
    assertArrayEquals(ints(greedy[0]), off.get(0).allIds());
  }

  /** The cached run must equal recomputing the whole sequence at every step: tokens and log-probs. */
  @Test
  void kvCacheEqualsFullRecomputation() {
    SamplingConfig cfg = SamplingConfig.sample(12, 0.9, 50, 0.95, 7, Set.of());
    List<Generation> cached = Generator.generate(model, promptList(), cfg, true);
    for (Generation g : cached) {
      int[] all = g.allIds();
      try (NDManager step = model.manager().newSubManager()) {
        NDArray ids = step.create(Arrays.stream(all).mapToLong(x -> x).toArray()).reshape(1, all.length);
        NDArray logp = model.tokenLogProbs(ids, null, true, 0.9); // (1, L-1)
        int p = g.promptIds().length;
        float[] full = logp.get(new NDIndex("0, {}:", p - 1)).toFloatArray();
        assertEquals(g.newIds().length, full.length);
        for (int j = 0; j < full.length; j++) {
          assertEquals(full[j], g.logProbs()[j], 1e-4, "log-prob of new token " + j);
        }
      }
    }
    // Greedy through the cache equals argmax of a full pass at each step.
    List<Generation> greedyOut = Generator.generate(model, promptList(), SamplingConfig.greedy(10, Set.of()), true);
    int[] seq = greedyOut.get(1).promptIds();
    for (int n = 0; n < 10; n++) {
      try (NDManager step = model.manager().newSubManager()) {
        NDArray ids = step.create(Arrays.stream(seq).mapToLong(x -> x).toArray()).reshape(1, seq.length);
        NDArray logits = model.logits(model.hidden(ids, null, null, true));
        int next = (int) logits.get(new NDIndex("0, -1, :")).argMax().getLong();
        assertEquals(next, greedyOut.get(1).newIds()[n], "step " + n);
        seq = Arrays.copyOf(seq, seq.length + 1);
        seq[seq.length - 1] = next;
      }
    }
  }

  @Test
  void leftPaddedBatchEqualsEachPromptAlone() {
    int[] shortPrompt = {42, 403, 353};
    int[] longPrompt = ints(prompts[1]);
    SamplingConfig cfg = SamplingConfig.greedy(8, Set.of());
    List<Generation> batch = Generator.generate(model, List.of(shortPrompt, longPrompt), cfg, true);
    Generation alone = Generator.generate(model, List.of(shortPrompt), cfg, true).get(0);
    assertArrayEquals(alone.newIds(), batch.get(0).newIds());
    for (int j = 0; j < alone.logProbs().length; j++) {
      assertEquals(alone.logProbs()[j], batch.get(0).logProbs()[j], 1e-4);
    }
    assertArrayEquals(ints(greedy[1]).length > 0 ? Arrays.copyOfRange(ints(greedy[1]), 9, 17) : null,
        batch.get(1).newIds());
  }

  @Test
  void samplingIsReproducibleAndFiltersWork() {
    SamplingConfig a = SamplingConfig.sample(16, 1.0, 0, 1.0, 123, Set.of());
    List<Generation> first = Generator.generate(model, promptList(), a, true);
    List<Generation> again = Generator.generate(model, promptList(), a, true);
    assertArrayEquals(first.get(0).newIds(), again.get(0).newIds());
    List<Generation> other = Generator.generate(model, promptList(),
        SamplingConfig.sample(16, 1.0, 0, 1.0, 124, Set.of()), true);
    assertFalse(Arrays.equals(first.get(0).newIds(), other.get(0).newIds()) && Arrays.equals(first.get(1).newIds(), other.get(1).newIds()),
        "another seed should give other tokens");
    // top-k 1 and a tiny top-p leave only the most likely token: greedy.
    List<Generation> k1 = Generator.generate(model, promptList(), SamplingConfig.sample(16, 1.0, 1, 1.0, 5, Set.of()), true);
    List<Generation> p0 = Generator.generate(model, promptList(), SamplingConfig.sample(16, 1.0, 0, 1e-6, 5, Set.of()), true);
    assertArrayEquals(ints(greedy[0]), k1.get(0).allIds());
    assertArrayEquals(ints(greedy[0]), p0.get(0).allIds());
    // Every sampled token under top-k 5 is among the 5 most likely at its step.
    List<Generation> k5 = Generator.generate(model, promptList(), SamplingConfig.sample(6, 1.0, 5, 1.0, 9, Set.of()), true);
    int[] seq = k5.get(0).allIds();
    int p = k5.get(0).promptIds().length;
    try (NDManager step = model.manager().newSubManager()) {
      NDArray ids = step.create(Arrays.stream(seq).mapToLong(x -> x).toArray()).reshape(1, seq.length);
      NDArray logits = model.logits(model.hidden(ids, null, null, true));
      for (int j = 0; j < 6; j++) {
        float[] row = logits.get(new NDIndex("0, {}, :", p - 1 + j)).toFloatArray();
        float chosen = row[seq[p + j]];
        int higher = 0;
        for (float x : row) {
          higher += x > chosen ? 1 : 0;
        }
        assertTrue(higher < 5, "token at step " + j + " is not in the top 5");
      }
    }
  }

  @Test
  void stopTokenEndsASequenceAndLengthLimitHolds() {
    int stop = (int) greedy[0][9 + 3]; // the 4th greedy token of row 0
    List<Generation> out = Generator.generate(model, promptList(), SamplingConfig.greedy(16, Set.of(stop)), true);
    assertTrue(out.get(0).stopped());
    assertEquals(4, out.get(0).newIds().length);
    assertEquals(stop, out.get(0).newIds()[3]);
    assertNotEquals(true, out.get(1).stopped() && out.get(1).newIds().length == 16);
    assertTrue(out.get(1).newIds().length <= 16);
  }

  @Test
  void aPromptLongerThanTheContextIsRefused() {
    int[] tooLong = new int[model.config().maxPositions()];
    ModelInputException e = assertThrows(ModelInputException.class,
        () -> Generator.generate(model, List.of(tooLong), SamplingConfig.greedy(4, Set.of()), true));
    assertTrue(e.getMessage().contains("context"), e.getMessage());
    // Near the end of the context the length limit is cut, not exceeded.
    int[] nearly = new int[model.config().maxPositions() - 3];
    Arrays.fill(nearly, 5);
    assertEquals(3, Generator.generate(model, List.of(nearly), SamplingConfig.greedy(10, Set.of()), true).get(0).newIds().length);
  }
}
