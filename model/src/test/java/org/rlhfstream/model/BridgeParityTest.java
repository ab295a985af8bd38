package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.rlhfstream.model.generate.Generation;
import org.rlhfstream.model.generate.Generator;
import org.rlhfstream.model.generate.SamplingConfig;
import org.rlhfstream.model.lora.LoraConfig;
import org.rlhfstream.model.nativeops.FastOps;
import org.rlhfstream.model.train.AdamW;
import org.rlhfstream.model.train.Backprop;
import org.rlhfstream.model.train.Losses;

/**
 * The Hugging Face reference numbers through the native bridge, on the device named by the system
 * property {@code rlhf.test.device} (default {@code cpu}; {@code gpu} on a CUDA host): float32 with
 * both attention kernels, and bf16 mixed precision within bf16 tolerance with greedy decoding
 * unchanged. Skipped without the bridge (DJL's stock library cannot hold bfloat16, and the float32
 * CPU case is {@link HfReferenceTest}).
 */
class BridgeParityTest {
  static String device;

  @BeforeAll
  static void needsBridge() {
    assumeTrue(FastOps.available(), "needs the native bridge (native/build-bridge.sh)");
    device = System.getProperty("rlhf.test.device", "cpu");
  }

  static ModelOptions options(DataType dtype, AttentionKernel attention) {
    return new ModelOptions(device, dtype, attention);
  }

  static long[][] rows(NDArray a) {
    int r = (int) a.getShape().get(0);
    int c = (int) a.getShape().get(1);
    long[] flat = a.toLongArray();
    long[][] out = new long[r][c];
    for (int i = 0; i < r; i++) {
      System.arraycopy(flat, i * c, out[i], 0, c);
    }
    return out;
  }

  /** Max |a - b| and max |b|, over float32 copies on the CPU. */
  static float[] diff(NDArray a, NDArray b) {
    float[] x = a.toType(DataType.FLOAT32, false).toDevice(ai.djl.Device.cpu(), false).toFloatArray();
    float[] y = b.toType(DataType.FLOAT32, false).toDevice(ai.djl.Device.cpu(), false).toFloatArray();
    assertEquals(y.length, x.length);
    float worst = 0;
    float scale = 0;
    for (int i = 0; i < x.length; i++) {
      assertTrue(!Float.isNaN(x[i]), "NaN at " + i);
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(y[i]));
    }
    return new float[] {worst, scale};
  }

  @ParameterizedTest(name = "{0} attention")
  @ValueSource(strings = {"sdpa", "eager"})
  void float32LogitsMatchHuggingFace(String attention) throws Exception {
    try (DecoderModel model = DecoderModel.load(Reference.dir(), options(DataType.FLOAT32, AttentionKernel.byName(attention)));
        NDManager step = model.manager().newSubManager()) {
      NDArray ids = Reference.golden("input_ids", step).toDevice(model.options().djlDevice(), false);
      NDArray logits = model.logits(model.hidden(ids, null, null, true));
      assertEquals(model.options().djlDevice().getDeviceType(), logits.getDevice().getDeviceType());
      float[] d = diff(logits, Reference.golden("logits", step));
      assertTrue(d[0] < 1e-4, "float32 " + attention + ": max |logits - HF| = " + d[0]);
      // With an explicit mask (the padded path, never the causal-only kernel).
      NDArray mask = step.ones(ids.getShape(), DataType.INT64).toDevice(model.options().djlDevice(), false);
      d = diff(model.logits(model.hidden(ids, mask, null, true)), Reference.golden("logits", step));
      assertTrue(d[0] < 1e-4, "float32 " + attention + " with mask: max |logits - HF| = " + d[0]);
    }
  }

  @Test
  void float32AdapterLogitsAndRewardScoresMatch() throws Exception {
    try (DecoderModel model = DecoderModel.load(Reference.dir(), options(DataType.FLOAT32, AttentionKernel.AUTO));
        NDManager step = model.manager().newSubManager()) {
      model.loadAdapter(Reference.adapter());
      NDArray ids = Reference.golden("input_ids", step).toDevice(model.options().djlDevice(), false);
      float[] d = diff(model.logits(model.hidden(ids, null, null, true)), Reference.golden("adapter_logits", step));
      assertTrue(d[0] < 1e-4, "adapter: max |logits - PEFT| = " + d[0]);
    }
    try (DecoderModel reward = DecoderModel.load(Reference.reward(), options(DataType.FLOAT32, AttentionKernel.AUTO));
        NDManager step = reward.manager().newSubManager()) {
      NDArray ids = Reference.golden("reward_input_ids", step).toDevice(reward.options().djlDevice(), false);
      NDArray mask = ids.neq(2).toType(DataType.INT64, false);
      float[] d = diff(reward.scores(reward.hidden(ids, mask, null, true), ids), Reference.golden("reward_scores", step));
      assertTrue(d[0] < 1e-4, "reward: max |score - HF| = " + d[0]);
    }
  }

  /** Greedy decoding with the KV cache reproduces Hugging Face's float32 tokens exactly. */
  @Test
  void float32GreedyDecodingMatchesHuggingFace() throws Exception {
    try (DecoderModel model = DecoderModel.load(Reference.dir(), options(DataType.FLOAT32, AttentionKernel.AUTO));
        NDManager m = model.manager().newSubManager()) {
      for (boolean adapter : new boolean[] {false, true}) {
        if (adapter) {
          model.loadAdapter(Reference.adapter());
        }
        long[][] want = rows(Reference.golden(adapter ? "adapter_greedy" : "greedy", m));
        List<Generation> out = Generator.generate(model, prompts(m), SamplingConfig.greedy(16, Set.of()), true);
        for (int i = 0; i < out.size(); i++) {
          assertArrayEquals(ints(want[i]), out.get(i).allIds(), (adapter ? "adapter " : "") + "greedy row " + i);
        }
      }
    }
  }

  /**
   * Under bf16 the logits differ from float32 by up to ~0.15 (bf16 keeps 8 bits of mantissa), and
   * the random reference model has next-token candidates closer than that. So: (1) along the
   * reference's greedy sequence, the bf16 model picks the same next token at every position
   * except near-ties (float32's top-two margin under {@link #NEAR_TIE}); (2)
   * decoding freely with the KV cache, it produces the same tokens up to the first position where
   * float32's own top-two margin is under {@link #NEAR_TIE}, where either choice is within
   * precision (and the continuations part).
   */
  @Test
  void bf16GreedyDecodingMatchesUpToNearTies() throws Exception {
    try (DecoderModel bf16 = DecoderModel.load(Reference.dir(), options(DataType.BFLOAT16, AttentionKernel.AUTO));
        DecoderModel f32 = DecoderModel.load(Reference.dir(), options(DataType.FLOAT32, AttentionKernel.AUTO));
        NDManager m = bf16.manager().newSubManager();
        NDManager m32 = f32.manager().newSubManager()) {
      for (boolean adapter : new boolean[] {false, true}) {
        if (adapter) {
          bf16.loadAdapter(Reference.adapter());
          f32.loadAdapter(Reference.adapter());
        }
        String what = adapter ? "adapter" : "base";
        NDArray golden = Reference.golden(adapter ? "adapter_greedy" : "greedy", m); // (2, P + 16)
        long[][] want = rows(golden);
        int v = bf16.config().vocabSize();
        int len = want[0].length;
        float[] teacher = bf16.logitsFloat32(bf16.hidden(golden.toDevice(bf16.options().djlDevice(), false), null, null,
            true)).toDevice(ai.djl.Device.cpu(), false).toFloatArray();
        float[] reference = f32.logits(f32.hidden(Reference.golden(adapter ? "adapter_greedy" : "greedy", m32)
            .toDevice(f32.options().djlDevice(), false), null, null, true)).toDevice(ai.djl.Device.cpu(), false)
            .toFloatArray();
        int prompt = (int) Reference.golden("input_ids", m).getShape().get(1);
        List<Generation> out = Generator.generate(bf16, prompts(m), SamplingConfig.greedy(16, Set.of()), true);
        for (int row = 0; row < want.length; row++) {
          int ties = 0;
          for (int t = prompt - 1; t < len - 1; t++) {
            double margin = margin(reference, (row * len + t) * v, v);
            if (margin < NEAR_TIE) {
              ties++;
              continue;
            }
            assertEquals(want[row][t + 1], argMax(teacher, (row * len + t) * v, v), what + " teacher-forced row " + row
                + " position " + t + " (float32 margin " + margin + ")");
          }
          assertTrue(ties <= (len - prompt) / 2, what + " row " + row + ": " + ties + " near-ties, too few positions checked");
          int[] got = out.get(row).allIds();
          for (int t = prompt; t < len; t++) {
            if (got[t] != want[row][t]) {
              double margin = margin(reference, (row * len + t - 1) * v, v);
              assertTrue(margin < NEAR_TIE, what + " row " + row + " departs at " + t + " (" + got[t] + " vs "
                  + want[row][t] + ") where float32's margin is " + margin);
              break;
            }
          }
        }
      }
    }
  }

  /** Top-two logit gap below which bf16 cannot be expected to order the candidates as float32 does. */
  static final double NEAR_TIE = 0.1;

  static List<int[]> prompts(NDManager m) {
    List<int[]> list = new ArrayList<>();
    for (long[] p : rows(Reference.golden("input_ids", m))) {
      list.add(ints(p));
    }
    return list;
  }

  static int[] ints(long[] x) {
    return Arrays.stream(x).mapToInt(v -> (int) v).toArray();
  }

  static long argMax(float[] x, int from, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
      if (x[from + i] > x[from + best]) {
        best = i;
      }
    }
    return best;
  }

  static double margin(float[] x, int from, int n) {
    float best = Float.NEGATIVE_INFINITY;
    float second = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      float y = x[from + i];
      if (y > best) {
        second = best;
        best = y;
      } else if (y > second) {
        second = y;
      }
    }
    return best - second;
  }

  /**
   * bf16 keeps about 3 significant digits: each weight and activation is rounded to 8 bits of
   * mantissa (relative error 2⁻⁹ ≈ 0.2%), and the logits of this 2-layer model gather a few such
   * roundings. Bound: 3% of the largest logit, and the same top token at every position but
   * near-ties.
   */
  @Test
  void bf16LogitsStayWithinBf16ToleranceOfHuggingFace() throws Exception {
    for (boolean adapter : new boolean[] {false, true}) {
      try (DecoderModel model = DecoderModel.load(Reference.dir(), options(DataType.BFLOAT16, AttentionKernel.AUTO));
          NDManager step = model.manager().newSubManager()) {
        if (adapter) {
          model.loadAdapter(Reference.adapter());
          assertEquals(DataType.FLOAT32, model.projections().get(0).loraA().getDataType(), "LoRA stays float32");
        }
        assertEquals(DataType.BFLOAT16, model.stateDict().get("model.embed_tokens.weight").getDataType());
        NDArray ids = Reference.golden("input_ids", step).toDevice(model.options().djlDevice(), false);
        NDArray logits = model.logits(model.hidden(ids, null, null, true));
        assertEquals(DataType.BFLOAT16, logits.getDataType());
        NDArray golden = Reference.golden(adapter ? "adapter_logits" : "logits", step);
        float[] d = diff(logits, golden);
        assertTrue(d[0] <= 0.03f * d[1], "bf16" + (adapter ? " adapter" : "") + ": max |logits - HF| = " + d[0]
            + " for logits up to " + d[1]);
        // The same top token at every position, except near-ties (see bf16GreedyDecodingMatchesUpToNearTies).
        float[] got = logits.toType(DataType.FLOAT32, false).toDevice(ai.djl.Device.cpu(), false).toFloatArray();
        float[] want = golden.toFloatArray();
        int v = model.config().vocabSize();
        for (int pos = 0; pos < want.length / v; pos++) {
          if (margin(want, pos * v, v) >= NEAR_TIE) {
            assertEquals(argMax(want, pos * v, v), argMax(got, pos * v, v), "bf16 top token at position " + pos);
          }
        }
      }
    }
  }

  /**
   * A LoRA training step under mixed precision: float32 adapter weights get float32 gradients
   * close to the float32 model's, and a few AdamW steps lower the loss.
   */
  @Test
  void bf16LoraTrainingFollowsFloat32() throws Exception {
    LoraConfig lora = new LoraConfig(8, 16, 0.0, List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
        "down_proj"), false);
    float[][] grads = new float[2][];
    float[] losses = new float[2];
    int run = 0;
    for (DataType dtype : new DataType[] {DataType.FLOAT32, DataType.BFLOAT16}) {
      try (DecoderModel model = DecoderModel.load(Reference.dir(), options(dtype, AttentionKernel.AUTO));
          NDManager m = model.manager().newSubManager()) {
        model.attachLora(lora, 3);
        NDArray ids = Reference.golden("input_ids", m).toDevice(model.options().djlDevice(), false);
        // B starts at zero; one step at lr 1e-2 makes the adapter non-trivial for the comparison.
        List<Parameter> params = model.trainableParameters();
        try (AdamW opt = new AdamW(model.manager(), AdamW.Config.defaults(), AdamW.MATRICES_DECAY)) {
          float first = 0;
          float last = 0;
          for (int s = 0; s < 5; s++) {
            last = Backprop.run(model.manager(), step -> {
              NDArray in = ids.get(":, :-1");
              NDArray target = ids.get(":, 1:");
              return Losses.crossEntropy(model.logits(model.hidden(in, null, null, true)), target, null);
            });
            if (s == 0) {
              first = last;
              // lora_B: its gradient is the non-zero one while B is still zero.
              Parameter b = params.stream().filter(p -> p.name().endsWith("q_proj.lora_B.weight")).findFirst().get();
              assertEquals(DataType.FLOAT32, b.array().getGradient().getDataType(), "float32 master gradients");
              grads[run] = b.array().getGradient().toDevice(ai.djl.Device.cpu(), false).toFloatArray();
            }
            opt.step(params, 1e-2);
            org.rlhfstream.model.train.Gradients.zero(params);
          }
          assertTrue(last < first, dtype + ": loss " + first + " -> " + last);
          losses[run] = last;
        }
      }
      run++;
    }
    double dot = 0;
    double n0 = 0;
    double n1 = 0;
    for (int i = 0; i < grads[0].length; i++) {
      dot += grads[0][i] * (double) grads[1][i];
      n0 += grads[0][i] * (double) grads[0][i];
      n1 += grads[1][i] * (double) grads[1][i];
    }
    double cosine = dot / Math.sqrt(n0 * n1);
    assertTrue(cosine > 0.98, "bf16 vs float32 LoRA gradient cosine " + cosine);
    assertEquals(losses[0], losses[1], 0.05 * Math.abs(losses[0]), "loss after 5 steps, float32 vs bf16");
  }
}
