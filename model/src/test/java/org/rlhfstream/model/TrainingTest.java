package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.lora.LoraConfig;
import org.rlhfstream.model.train.AdamW;
import org.rlhfstream.model.train.Backprop;
import org.rlhfstream.model.train.Gradients;
import org.rlhfstream.model.train.Losses;
import org.rlhfstream.model.train.LrSchedule;

class TrainingTest {

  /** loss = Σ w·c, so the gradient of w is c. */
  static NDArray linearLoss(NDArray w, float[] c, NDManager step) {
    return w.mul(step.create(c, w.getShape())).sum();
  }

  @Test
  void adamWMatchesTheTorchFormula() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] init = {0.5f, -1.0f, 2.0f, 0.0f};
      float[] c = {0.1f, -0.3f, 2.0f, 0.0f};
      NDArray w = m.create(init, new Shape(2, 2));
      w.setRequiresGradient(true);
      List<Parameter> params = List.of(new Parameter("w", w));
      double lr = 0.01;
      double b1 = 0.9;
      double b2 = 0.99;
      double eps = 1e-8;
      double wd = 0.1;
      try (AdamW opt = new AdamW(m, new AdamW.Config(b1, b2, eps, wd), AdamW.MATRICES_DECAY)) {
        double[] theta = new double[4];
        double[] mm = new double[4];
        double[] vv = new double[4];
        for (int i = 0; i < 4; i++) {
          theta[i] = init[i];
        }
        for (int t = 1; t <= 3; t++) {
          Backprop.run(m, step -> linearLoss(w, c, step));
          opt.step(params, lr);
          Gradients.zero(params);
          for (int i = 0; i < 4; i++) {
            theta[i] *= 1 - lr * wd;
            mm[i] = b1 * mm[i] + (1 - b1) * c[i];
            vv[i] = b2 * vv[i] + (1 - b2) * c[i] * c[i];
            double mhat = mm[i] / (1 - Math.pow(b1, t));
            double vhat = vv[i] / (1 - Math.pow(b2, t));
            theta[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
          }
        }
        float[] got = w.toFloatArray();
        for (int i = 0; i < 4; i++) {
          assertEquals(theta[i], got[i], 1e-6, "element " + i);
        }
        assertEquals(3, opt.stepCount());
      }
    }
  }

  @Test
  void adamWGroupsHaveTheirOwnLearningRates() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.create(new float[] {1, 1}, new Shape(1, 2));
      NDArray b = m.create(new float[] {1, 1}, new Shape(1, 2));
      a.setRequiresGradient(true);
      b.setRequiresGradient(true);
      List<Parameter> params = List.of(new Parameter("a", a), new Parameter("b", b));
      try (AdamW opt = new AdamW(m, new AdamW.Config(0.9, 0.999, 1e-8, 0.0), p -> true)) {
        Backprop.run(m, step -> a.sum().add(b.sum()));
        opt.step(params, p -> p.name().equals("a") ? 0.1 : 0.0);
      }
      // First Adam step moves by lr·sign(g): a by 0.1, b not at all.
      assertArrayEquals(new float[] {0.9f, 0.9f}, a.toFloatArray(), 1e-5f);
      assertArrayEquals(new float[] {1f, 1f}, b.toFloatArray(), 0f);
    }
  }

  @Test
  void adamWStateSavesAndRestores(@TempDir Path tmp) throws Exception {
    float[] c = {0.3f, -0.2f, 0.7f, 1.5f};
    float[] continued;
    float[] resumed;
    Path state = tmp.resolve("optimizer.safetensors");
    float[] snapshot;
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
      w.setRequiresGradient(true);
      List<Parameter> params = List.of(new Parameter("w", w));
      try (AdamW opt = new AdamW(m, AdamW.Config.defaults(), p -> true)) {
        for (int t = 0; t < 3; t++) {
          Backprop.run(m, step -> linearLoss(w, c, step));
          opt.step(params, 0.05);
          Gradients.zero(params);
        }
        opt.save(state);
        snapshot = w.toFloatArray();
        for (int t = 0; t < 2; t++) {
          final int factor = 1 + t;
          Backprop.run(m, step -> linearLoss(w, c, step).mul(factor));
          opt.step(params, 0.05);
          Gradients.zero(params);
        }
        continued = w.toFloatArray();
      }
    }
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray w = m.create(snapshot, new Shape(2, 2));
      w.setRequiresGradient(true);
      List<Parameter> params = List.of(new Parameter("w", w));
      try (AdamW opt = new AdamW(m, AdamW.Config.defaults(), p -> true)) {
        opt.load(state);
        assertEquals(3, opt.stepCount());
        for (int t = 0; t < 2; t++) {
          final int factor = 1 + t;
          Backprop.run(m, step -> linearLoss(w, c, step).mul(factor));
          opt.step(params, 0.05);
          Gradients.zero(params);
        }
        resumed = w.toFloatArray();
      }
    }
    assertArrayEquals(continued, resumed, 0f);
  }

  @Test
  void clippingByGlobalNormScalesAllGradientsTogether() {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray a = m.create(new float[] {1, 1});
      NDArray b = m.create(new float[] {1});
      a.setRequiresGradient(true);
      b.setRequiresGradient(true);
      List<Parameter> params = List.of(new Parameter("a", a), new Parameter("b", b));
      // grads (3, 4) and (12): global norm 13.
      Backprop.run(m, step -> a.mul(step.create(new float[] {3, 4})).sum().add(b.mul(12).sum()));
      float norm = Gradients.clipByGlobalNorm(params, 1.0);
      assertEquals(13f, norm, 1e-5);
      assertEquals(1f, Gradients.globalNorm(params), 1e-5);
      try (NDManager s = m.newSubManager()) {
        assertArrayEquals(new float[] {3f / 13, 4f / 13}, Gradients.of(params.get(0), s).toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {12f / 13}, Gradients.of(params.get(1), s).toFloatArray(), 1e-6f);
      }
      // Below the limit nothing changes.
      assertEquals(1f, Gradients.clipByGlobalNorm(params, 5.0), 1e-5);
      assertEquals(1f, Gradients.globalNorm(params), 1e-5);
    }
  }

  @Test
  void scheduleWarmsUpThenDecays() {
    LrSchedule cos = LrSchedule.warmupCosine(1e-3, 10, 110, 1e-5);
    assertEquals(1e-4, cos.at(0), 1e-12);
    assertEquals(1e-3, cos.at(9), 1e-12);
    assertEquals(1e-3, cos.at(10), 1e-12);
    assertEquals(1e-5 + (1e-3 - 1e-5) * 0.5, cos.at(60), 1e-12);
    assertEquals(1e-5, cos.at(110), 1e-12);
    LrSchedule lin = LrSchedule.warmupLinear(2e-4, 0, 100, 0);
    assertEquals(2e-4, lin.at(0), 1e-12);
    assertEquals(1e-4, lin.at(50), 1e-12);
    assertEquals(0, lin.at(100), 1e-12);
  }

  @Test
  void gradientAccumulationEqualsOneBigBatch() {
    long[][] batch = {{5, 9, 11, 3}, {7, 8, 1, 2}};
    try (DecoderModel m = ModelPresets.TINY.create(ModelOptions.cpu())) {
      m.setTrainable(p -> true);
      List<Parameter> params = m.trainableParameters();
      Backprop.run(m.manager(), step -> {
        NDArray ids = step.create(batch);
        return Losses.crossEntropy(m.logits(m.hidden(ids, null, null, true)), ids, null);
      });
      List<float[]> full = grads(params, m);
      Gradients.zero(params);
      for (long[] row : batch) {
        Backprop.run(m.manager(), step -> {
          NDArray ids = step.create(new long[][] {row});
          return Losses.crossEntropy(m.logits(m.hidden(ids, null, null, true)), ids, null);
        }, 0.5);
      }
      List<float[]> accumulated = grads(params, m);
      for (int i = 0; i < full.size(); i++) {
        assertArrayEquals(full.get(i), accumulated.get(i), 1e-6f, params.get(i).name());
      }
    }
  }

  static List<float[]> grads(List<Parameter> params, DecoderModel m) {
    List<float[]> out = new ArrayList<>();
    try (NDManager s = m.manager().newSubManager()) {
      for (Parameter p : params) {
        out.add(Gradients.of(p, s).toFloatArray());
      }
    }
    return out;
  }

  /** Bradley–Terry training of a reward model (LoRA + score head) learns the preference. */
  @Test
  void bradleyTerryTrainingLearnsAPreferenceAndSavesInHfLayout(@TempDir Path tmp) throws Exception {
    long[][] chosen = {{5, 6, 7, 1}, {9, 10, 11, 1}, {12, 5, 9, 1}};
    long[][] rejected = {{5, 6, 8, 2}, {9, 10, 13, 2}, {12, 5, 4, 2}};
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu(), ModelConfig.Head.SEQUENCE_CLASSIFICATION, 1)) {
      m.attachLora(new LoraConfig(4, 8, 0.0, List.of("q_proj", "v_proj"), false), 2);
      m.setTrainable(p -> p.isLora() || p.name().equals("score.weight"));
      List<Parameter> params = m.trainableParameters();
      assertEquals(2 * 2 * 2 + 1, params.size());
      LrSchedule lr = LrSchedule.warmupCosine(0.02, 5, 60, 0.001);
      float first = 0;
      float last = 0;
      try (AdamW opt = new AdamW(m.manager(), AdamW.Config.defaults(), AdamW.MATRICES_DECAY)) {
        for (int t = 0; t < 60; t++) {
          last = Backprop.run(m.manager(), step -> Losses.bradleyTerry(
              m.sequenceScores(step.create(chosen), null, true), m.sequenceScores(step.create(rejected), null, true)));
          if (t == 0) {
            first = last;
          }
          Gradients.clipByGlobalNorm(params, 1.0);
          opt.step(params, lr.at(t));
          Gradients.zero(params);
        }
      }
      assertTrue(last < 0.2 * first, "loss " + first + " -> " + last);
      try (NDManager step = m.manager().newSubManager()) {
        assertEquals(1f, Losses.pairAccuracy(m.sequenceScores(step.create(chosen), null, true),
            m.sequenceScores(step.create(rejected), null, true)));
      }
      // Merged into the base and saved in the HF layout, it scores the same after reloading.
      m.mergeAdapter();
      m.save(tmp);
      float[] before;
      try (NDManager step = m.manager().newSubManager()) {
        before = m.sequenceScores(step.create(chosen), null, true).toFloatArray();
      }
      try (DecoderModel copy = DecoderModel.load(tmp, ModelOptions.cpu()); NDManager step = copy.manager().newSubManager()) {
        assertArrayEquals(before, copy.sequenceScores(step.create(chosen), null, true).toFloatArray(), 1e-5f);
      }
    }
  }

  /**
   * Thousands of LoRA training steps keep both the count of live arrays and the process's native
   * memory flat (a leak of one array per step would show in either).
   */
  @Test
  void aLongTrainingLoopDoesNotLeak() {
    ModelConfig tiny = ModelConfig.llama(64, 16, 32, 1, 2, 1, 16, false);
    long[][] batch = {{1, 2, 3, 4, 5, 6, 7, 8}};
    try (DecoderModel m = DecoderModel.random(tiny, ModelOptions.cpu(), 9, 0.1)) {
      m.attachLora(new LoraConfig(2, 4, 0.1, List.of("q_proj", "v_proj"), false), 1);
      m.setTraining(true);
      List<Parameter> params = m.trainableParameters();
      int arraysAfterWarmup = 0;
      long rssAfterWarmup = 0;
      try (AdamW opt = new AdamW(m.manager(), AdamW.Config.defaults(), AdamW.MATRICES_DECAY)) {
        for (int t = 0; t < 3000; t++) {
          Backprop.run(m.manager(), step -> {
            NDArray ids = step.create(batch);
            return Losses.crossEntropy(m.logits(m.hidden(ids, null, null, true)), ids, null);
          });
          Gradients.clipByGlobalNorm(params, 1.0);
          opt.step(params, 1e-3);
          Gradients.zero(params);
          if (t == 500) {
            arraysAfterWarmup = m.manager().getManagedArrays().size();
            rssAfterWarmup = rssKb();
          }
        }
        assertEquals(arraysAfterWarmup, m.manager().getManagedArrays().size(), "live arrays grew");
        long growthMb = (rssKb() - rssAfterWarmup) / 1024;
        assertTrue(growthMb < 32, "native memory grew by " + growthMb + " MB over 2500 steps");
      }
    }
  }

  /** Resident memory of the process; the Java heap is fixed and pre-touched in tests (see the pom). */
  static long rssKb() {
    try {
      for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return 0;
  }

  @Test
  void valueHeadGivesAScalarPerTokenAndRoundTrips(@TempDir Path tmp) throws Exception {
    try (DecoderModel m = ModelPresets.TINY.create(ModelOptions.cpu()); NDManager step = m.manager().newSubManager()) {
      m.addValueHead(4);
      NDArray ids = step.create(new long[][] {{3, 4, 5}, {6, 7, 8}});
      NDArray v = m.values(m.hidden(ids, null, null, true));
      assertEquals(new Shape(2, 3), v.getShape());
      m.saveValueHead(tmp.resolve("v.safetensors"));
      float[] before = v.toFloatArray();
      m.addValueHead(99);
      m.loadValueHead(tmp.resolve("v.safetensors"));
      assertArrayEquals(before, m.values(m.hidden(ids, null, null, true)).toFloatArray(), 0f);
      assertTrue(m.parameters().stream().anyMatch(p -> p.name().equals("v_head.summary.weight")));
      Map<String, NDArray> sd = m.stateDict();
      assertTrue(sd.keySet().stream().noneMatch(n -> n.startsWith("v_head")), "HF layout has no value head");
    }
  }
}
