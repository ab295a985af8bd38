package org.rlhfstream.model.nativeops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each fast operation against a reference computed here in plain Java (double precision), on
 * whichever path is active: the composed fallback without the bridge (CI), the native one with
 * it. With the bridge, the native and composed paths are also compared with each other, values
 * and gradients. The device is {@code rlhf.test.device} (default cpu).
 */
class FastOpsTest {
  static NDManager manager;

  @BeforeAll
  static void open() {
    // rlhf.test.device=gpu runs the same checks on the GPU (the device run sets it).
    manager = NDManager.newBaseManager(ai.djl.Device.fromName(System.getProperty("rlhf.test.device", "cpu")), "PyTorch");
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  static float[] random(SplittableRandom r, int n, double scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextGaussian() * scale);
    }
    return v;
  }

  static void assertClose(float[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + ": sizes");
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      assertFalse(Float.isNaN(actual[i]), what + ": NaN at " + i);
      worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
    }
    assertTrue(worst <= tol, what + ": max |diff| " + worst + " > " + tol);
  }

  // ---- attention ----------------------------------------------------------------------------------

  /** Attention of one (batch, head) by the book: softmax(q·kᵀ/√d + mask)·v, in double. */
  static float[] referenceAttention(float[] q, float[] k, float[] v, int b, int h, int kvh, int t, int s, int d,
      boolean causal, float[] padMask) {
    float[] out = new float[b * h * t * d];
    int groups = h / kvh;
    for (int bi = 0; bi < b; bi++) {
      for (int hi = 0; hi < h; hi++) {
        int kv = hi / groups;
        for (int ti = 0; ti < t; ti++) {
          double[] scores = new double[s];
          double max = Double.NEGATIVE_INFINITY;
          for (int si = 0; si < s; si++) {
            double dot = 0;
            for (int di = 0; di < d; di++) {
              dot += q[((bi * h + hi) * t + ti) * d + di] * (double) k[((bi * kvh + kv) * s + si) * d + di];
            }
            scores[si] = dot / Math.sqrt(d);
            if (causal && si > ti + (s - t)) {
              scores[si] = Double.NEGATIVE_INFINITY;
            }
            if (padMask != null) {
              scores[si] += padMask[bi * s + si];
            }
            max = Math.max(max, scores[si]);
          }
          double sum = 0;
          for (int si = 0; si < s; si++) {
            scores[si] = Math.exp(scores[si] - max);
            sum += scores[si];
          }
          for (int di = 0; di < d; di++) {
            double acc = 0;
            for (int si = 0; si < s; si++) {
              acc += scores[si] / sum * v[((bi * kvh + kv) * s + si) * d + di];
            }
            out[((bi * h + hi) * t + ti) * d + di] = (float) acc;
          }
        }
      }
    }
    return out;
  }

  @Test
  void attentionMatchesTheDefinitionWithGroupedHeadsAndCausality() {
    SplittableRandom r = new SplittableRandom(7);
    int b = 2, h = 4, kvh = 2, t = 5, d = 8;
    float[] q = random(r, b * h * t * d, 1);
    float[] k = random(r, b * kvh * t * d, 1);
    float[] v = random(r, b * kvh * t * d, 1);
    try (NDManager m = manager.newSubManager()) {
      NDArray qa = m.create(q, new Shape(b, h, t, d));
      NDArray ka = m.create(k, new Shape(b, kvh, t, d));
      NDArray va = m.create(v, new Shape(b, kvh, t, d));
      float[] expected = referenceAttention(q, k, v, b, h, kvh, t, t, d, true, null);
      // causal flag, and the same causality as an additive mask
      assertClose(expected, FastOps.attention(qa, ka, va, null, true).toFloatArray(), 1e-5, "causal flag");
      assertClose(expected, FastOps.composedAttention(qa, ka, va, null, true).toFloatArray(), 1e-5, "composed causal");
      NDArray mask = causalMask(m, t, t);
      assertClose(expected, FastOps.attention(qa, ka, va, mask, false).toFloatArray(), 1e-5, "causal mask");
    }
  }

  @Test
  void attentionWithPaddingAndFewerQueriesThanKeys() {
    SplittableRandom r = new SplittableRandom(8);
    int b = 2, h = 4, kvh = 1, t = 2, s = 6, d = 4;
    float[] q = random(r, b * h * t * d, 1);
    float[] k = random(r, b * kvh * s * d, 1);
    float[] v = random(r, b * kvh * s * d, 1);
    float[] pad = new float[b * s];
    pad[0] = -1e30f; // row 0: the first key is padding
    pad[1] = -1e30f;
    try (NDManager m = manager.newSubManager()) {
      NDArray qa = m.create(q, new Shape(b, h, t, d));
      NDArray ka = m.create(k, new Shape(b, kvh, s, d));
      NDArray va = m.create(v, new Shape(b, kvh, s, d));
      NDArray mask = causalMask(m, t, s).add(m.create(pad, new Shape(b, 1, 1, s)));
      float[] expected = referenceAttention(q, k, v, b, h, kvh, t, s, d, true, pad);
      assertClose(expected, FastOps.attention(qa, ka, va, mask, false).toFloatArray(), 1e-5, "padded decode");
      assertThrows(IllegalArgumentException.class, () -> FastOps.attention(qa, ka, va, null, true));
    }
  }

  /** (1, 1, T, S) additive mask, the last T queries of S positions. */
  static NDArray causalMask(NDManager m, int t, int s) {
    float[] mask = new float[t * s];
    for (int i = 0; i < t; i++) {
      for (int j = 0; j < s; j++) {
        mask[i * s + j] = j > i + (s - t) ? -1e30f : 0f;
      }
    }
    return m.create(mask, new Shape(1, 1, t, s));
  }

  @Test
  void nativeAttentionGradientsEqualTheComposedOnes() {
    assumeTrue(FastOps.available(), "needs the native bridge");
    SplittableRandom r = new SplittableRandom(9);
    int b = 2, h = 4, kvh = 2, t = 6, d = 8;
    float[] q = random(r, b * h * t * d, 1);
    float[] k = random(r, b * kvh * t * d, 1);
    float[] v = random(r, b * kvh * t * d, 1);
    float[] w = random(r, b * h * t * d, 1);
    float[][] nativeGrads = attentionGrads(q, k, v, w, b, h, kvh, t, d, true);
    float[][] composedGrads = attentionGrads(q, k, v, w, b, h, kvh, t, d, false);
    for (int i = 0; i < 3; i++) {
      assertClose(composedGrads[i], nativeGrads[i], 1e-4, "gradient " + "qkv".charAt(i));
    }
  }

  static float[][] attentionGrads(float[] q, float[] k, float[] v, float[] w, int b, int h, int kvh, int t, int d,
      boolean fast) {
    try (NDManager m = manager.newSubManager()) {
      NDArray qa = m.create(q, new Shape(b, h, t, d));
      NDArray ka = m.create(k, new Shape(b, kvh, t, d));
      NDArray va = m.create(v, new Shape(b, kvh, t, d));
      NDArray wa = m.create(w, new Shape(b, h, t, d));
      for (NDArray a : List.of(qa, ka, va)) {
        a.setRequiresGradient(true);
      }
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray out = fast ? FastOps.attention(qa, ka, va, null, true) : FastOps.composedAttention(qa, ka, va, null, true);
        gc.backward(out.mul(wa).sum());
      }
      return new float[][] {
        qa.getGradient().toFloatArray(), ka.getGradient().toFloatArray(), va.getGradient().toFloatArray()
      };
    }
  }

  // ---- casts --------------------------------------------------------------------------------------

  @Test
  void wideningCastKeepsTheGradient() {
    try (NDManager m = manager.newSubManager()) {
      NDArray x = m.create(new float[] {1, 2, 3});
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray y = FastOps.cast(x, DataType.FLOAT64);
        assertEquals(DataType.FLOAT64, y.getDataType());
        gc.backward(y.square().sum());
      }
      assertClose(new float[] {2, 4, 6}, x.getGradient().toFloatArray(), 1e-6, "d(x²)/dx");
    }
  }

  @Test
  void narrowingCastWithAGradientNeedsTheBridge() {
    assumeFalse(FastOps.available(), "the bridge does narrowing casts");
    try (NDManager m = manager.newSubManager()) {
      NDArray x = m.create(new double[] {1, 2, 3});
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        assertThrows(UnsupportedOperationException.class, () -> FastOps.cast(x, DataType.FLOAT32));
      }
      // Without a gradient to keep, it is a plain conversion.
      assertEquals(DataType.FLOAT32, FastOps.cast(m.create(new double[] {1}), DataType.FLOAT32).getDataType());
    }
  }

  @Test
  void bf16RoundTripCarriesTheGradient() {
    assumeTrue(FastOps.available(), "bfloat16 needs the native bridge");
    try (NDManager m = manager.newSubManager()) {
      NDArray x = m.create(new float[] {1.5f, -2.25f, 3f});
      x.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray y = FastOps.cast(x, DataType.BFLOAT16);
        assertEquals(DataType.BFLOAT16, y.getDataType());
        NDArray z = FastOps.cast(y.mul(y), DataType.FLOAT32).sum();
        gc.backward(z);
      }
      assertClose(new float[] {3f, -4.5f, 6f}, x.getGradient().toFloatArray(), 1e-2, "d(x²)/dx through bf16");
    }
  }

  // ---- RMSNorm ------------------------------------------------------------------------------------

  @Test
  void rmsNormMatchesTheDefinition() {
    SplittableRandom r = new SplittableRandom(10);
    int rows = 3, width = 16;
    float[] x = random(r, rows * width, 2);
    float[] w = random(r, width, 1);
    double eps = 1e-6;
    float[] expected = new float[x.length];
    for (int i = 0; i < rows; i++) {
      double ms = 0;
      for (int j = 0; j < width; j++) {
        ms += x[i * width + j] * (double) x[i * width + j];
      }
      double inv = 1 / Math.sqrt(ms / width + eps);
      for (int j = 0; j < width; j++) {
        expected[i * width + j] = (float) (w[j] * x[i * width + j] * inv);
      }
    }
    try (NDManager m = manager.newSubManager()) {
      NDArray xa = m.create(x, new Shape(rows, width));
      NDArray wa = m.create(w);
      assertClose(expected, FastOps.rmsNorm(xa, wa, eps).toFloatArray(), 1e-5, "rmsNorm");
      assertClose(expected, FastOps.composedRmsNorm(xa, wa, eps).toFloatArray(), 1e-5, "composed rmsNorm");
    }
  }

  // ---- AdamW and clipping -------------------------------------------------------------------------

  /** torch.optim.AdamW for one parameter, in double, over the given gradients. */
  static float[] referenceAdamw(float[] p0, float[][] grads, double lr, double b1, double b2, double eps, double wd) {
    double[] p = new double[p0.length];
    double[] m = new double[p0.length];
    double[] v = new double[p0.length];
    for (int i = 0; i < p.length; i++) {
      p[i] = p0[i];
    }
    for (int t = 1; t <= grads.length; t++) {
      double bc1 = 1 - Math.pow(b1, t);
      double bc2 = 1 - Math.pow(b2, t);
      for (int i = 0; i < p.length; i++) {
        double g = grads[t - 1][i];
        p[i] *= 1 - lr * wd;
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
      }
    }
    float[] out = new float[p.length];
    for (int i = 0; i < p.length; i++) {
      out[i] = (float) p[i];
    }
    return out;
  }

  @Test
  void adamwMatchesTorchSemanticsOnBothPaths() {
    SplittableRandom r = new SplittableRandom(11);
    float[] p0 = random(r, 12, 1);
    float[][] grads = {random(r, 12, 1), random(r, 12, 0.1), random(r, 12, 3)};
    double lr = 1e-2, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
    float[] expected = referenceAdamw(p0, grads, lr, b1, b2, eps, wd);
    for (boolean composed : new boolean[] {false, true}) {
      try (NDManager m = manager.newSubManager()) {
        NDArray p = m.create(p0, new Shape(3, 4));
        p.setRequiresGradient(true);
        NDArray expAvg = m.zeros(p.getShape());
        NDArray expAvgSq = m.zeros(p.getShape());
        for (int t = 1; t <= grads.length; t++) {
          NDArray gw = m.create(grads[t - 1], new Shape(3, 4));
          try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            gc.backward(p.mul(gw).sum()); // gradient = gw
          }
          if (composed) {
            FastOps.composedAdamw(List.of(p), List.of(expAvg), List.of(expAvgSq), t, lr, b1, b2, eps, wd, true);
          } else {
            FastOps.adamw(List.of(p), List.of(expAvg), List.of(expAvgSq), t, lr, b1, b2, eps, wd, true);
          }
          assertClose(new float[12], p.getGradient().toFloatArray(), 0, "gradient zeroed");
        }
        assertClose(expected, p.toFloatArray(), 1e-5, composed ? "composed AdamW" : "FastOps AdamW");
      }
    }
  }

  @Test
  void clipGradNormScalesToTheLimit() {
    try (NDManager m = manager.newSubManager()) {
      NDArray a = m.create(new float[] {1, 2, 3});
      NDArray b = m.create(new float[] {4, 5});
      a.setRequiresGradient(true);
      b.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        gc.backward(a.mul(m.create(new float[] {3, 0, 4})).sum().add(b.mul(m.create(new float[] {0, 12})).sum()));
      }
      // gradients (3, 0, 4) and (0, 12): norm 13
      NDArray norm = FastOps.clipGradNorm(List.of(a, b), 6.5);
      assertEquals(13f, norm.getFloat(), 1e-5);
      assertClose(new float[] {1.5f, 0, 2f}, a.getGradient().toFloatArray(), 1e-5, "clipped a");
      assertClose(new float[] {0, 6f}, b.getGradient().toFloatArray(), 1e-5, "clipped b");
      norm.close();
    }
  }

  // ---- fused layers: native equals composed, values and gradients ------------------------------------

  interface Layer {
    NDArray apply(NDArray[] in, boolean fast);
  }

  /** Runs {@code layer} on fresh copies of {@code inputs} (all requiring gradients) and returns output + gradients. */
  static float[][] valueAndGrads(float[][] inputs, Shape[] shapes, Layer layer, boolean fast) {
    try (NDManager m = manager.newSubManager()) {
      NDArray[] in = new NDArray[inputs.length];
      for (int i = 0; i < in.length; i++) {
        in[i] = m.create(inputs[i], shapes[i]);
        in[i].setRequiresGradient(true);
      }
      float[][] out = new float[inputs.length + 1][];
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray y = layer.apply(in, fast);
        out[0] = y.toFloatArray();
        gc.backward(y.mul(y).sum());
      }
      for (int i = 0; i < in.length; i++) {
        out[i + 1] = in[i].getGradient().toFloatArray();
      }
      return out;
    }
  }

  static void assertSameLayer(float[][] inputs, Shape[] shapes, Layer layer, String what) {
    float[][] composed = valueAndGrads(inputs, shapes, layer, false);
    float[][] fast = valueAndGrads(inputs, shapes, layer, true);
    for (int i = 0; i < composed.length; i++) {
      assertClose(composed[i], fast[i], 1e-4, what + (i == 0 ? " value" : " gradient " + i));
    }
  }

  @Test
  void fusedLayersEqualTheirCompositions() {
    SplittableRandom r = new SplittableRandom(12);
    int rows = 6, in = 8, out = 5, rank = 3;
    Shape[] lora = {new Shape(2, 3, in), new Shape(out, in), new Shape(out), new Shape(rank, in), new Shape(out, rank)};
    float[][] loraIn = {random(r, rows * in, 1), random(r, out * in, 0.3), random(r, out, 0.1),
        random(r, rank * in, 0.3), random(r, out * rank, 0.3)};
    assertSameLayer(loraIn, lora, (x, fast) -> fast
        ? FastOps.loraLinear(x[0], x[1], x[2], x[3], x[4], 2.0, 0.0, false)
        : FastOps.composedLoraLinear(x[0], x[1], x[2], x[3], x[4], 2.0, 0.0, false), "loraLinear");
    float[] residual = random(r, rows * out, 1);
    assertSameLayer(new float[][] {loraIn[0], loraIn[1], loraIn[2], loraIn[3], loraIn[4], residual},
        new Shape[] {lora[0], lora[1], lora[2], lora[3], lora[4], new Shape(2, 3, out)}, (x, fast) -> fast
        ? FastOps.loraLinear(x[0], x[1], x[2], x[3], x[4], 2.0, 0.0, false, x[5])
        : FastOps.composedLoraLinear(x[0], x[1], x[2], x[3], x[4], 2.0, 0.0, false).add(x[5]), "loraLinear + residual");
    assertSameLayer(new float[][] {loraIn[0], loraIn[1]}, new Shape[] {lora[0], lora[1]}, (x, fast) -> fast
        ? FastOps.loraLinear(x[0], x[1], null, null, null, 1.0, 0.0, false)
        : FastOps.composedLoraLinear(x[0], x[1], null, null, null, 1.0, 0.0, false), "linear without adapter");
    int d = 8;
    Shape[] rot = {new Shape(2, 2, 3, d), new Shape(1, 1, 3, d), new Shape(1, 1, 3, d)};
    float[][] rotIn = {random(r, 2 * 2 * 3 * d, 1), random(r, 3 * d, 1), random(r, 3 * d, 1)};
    assertSameLayer(rotIn, rot, (x, fast) -> fast ? FastOps.rotary(x[0], x[1], x[2])
        : FastOps.composedRotary(x[0], x[1], x[2]), "rotary");
    Shape[] glu = {new Shape(4, 7), new Shape(4, 7)};
    float[][] gluIn = {random(r, 28, 2), random(r, 28, 1)};
    assertSameLayer(gluIn, glu, (x, fast) -> fast ? FastOps.swiglu(x[0], x[1]) : FastOps.composedSwiglu(x[0], x[1]),
        "swiglu");
  }

  @Test
  void zeroGradsClearsAccumulatedGradients() {
    try (NDManager m = manager.newSubManager()) {
      NDArray a = m.create(new float[] {1, 2});
      NDArray b = m.create(new float[] {3});
      NDArray frozen = m.create(new float[] {4});
      a.setRequiresGradient(true);
      b.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        gc.backward(a.sum().add(b.mul(2).sum()).add(frozen.sum()));
      }
      FastOps.zeroGrads(List.of(a, b));
      assertClose(new float[] {0, 0}, a.getGradient().toFloatArray(), 0, "a");
      assertClose(new float[] {0}, b.getGradient().toFloatArray(), 0, "b");
    }
  }

  // ---- switches -----------------------------------------------------------------------------------

  @Test
  void tf32SwitchIsReportedBack() {
    if (!FastOps.available()) {
      FastOps.setTf32(true);
      assertFalse(FastOps.tf32(), "no TF32 without the bridge");
      assertTrue(FastOps.info().isEmpty());
      return;
    }
    boolean before = FastOps.tf32();
    try {
      FastOps.setTf32(true);
      assertTrue(FastOps.tf32());
      FastOps.setTf32(false);
      assertFalse(FastOps.tf32());
    } finally {
      FastOps.setTf32(before);
    }
    assertTrue(FastOps.info().containsKey("torch"), "info names the PyTorch version: " + FastOps.info());
  }
}
