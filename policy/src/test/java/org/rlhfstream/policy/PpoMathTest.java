package org.rlhfstream.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each PPO formula pinned to numbers worked out by hand. */
class PpoMathTest {

  private NDManager nd;

  @BeforeEach
  void setUp() {
    nd = NDManager.newBaseManager("PyTorch");
  }

  @AfterEach
  void tearDown() {
    nd.close();
  }

  private NDArray row(float... values) {
    return nd.create(values, new Shape(1, values.length));
  }

  @Test
  void gaeRunsBackwardsOverTheTokens() {
    // γ = 1, λ = 0.95; r = [1, 0, 2], V = [0.5, 0.2, 0.1]
    // t=2: δ = 2 + 0 − 0.1 = 1.9;          A = 1.9
    // t=1: δ = 0 + 0.1 − 0.2 = −0.1;       A = −0.1 + 0.95·1.9 = 1.705
    // t=0: δ = 1 + 0.2 − 0.5 = 0.7;        A = 0.7 + 0.95·1.705 = 2.31975
    NDList out = PpoMath.gae(row(1, 0, 2), row(0.5f, 0.2f, 0.1f), row(1, 1, 1), 1.0, 0.95);
    assertArrayEquals(new float[] {2.31975f, 1.705f, 1.9f}, out.get(0).toFloatArray(), 1e-5f);
    assertArrayEquals(new float[] {2.81975f, 1.905f, 2.0f}, out.get(1).toFloatArray(), 1e-5f);
  }

  @Test
  void gaeIgnoresPadding() {
    // The third token is padding: its reward and value must not leak into earlier advantages.
    // γ = 0.5, λ = 1: t=1: δ = 2 − 0.2 = 1.8, A = 1.8; t=0: δ = 1 + 0.5·0.2 − 0.5 = 0.6, A = 0.6 + 0.5·1.8 = 1.5
    NDList out = PpoMath.gae(row(1, 2, 99), row(0.5f, 0.2f, 42), row(1, 1, 0), 0.5, 1.0);
    assertArrayEquals(new float[] {1.5f, 1.8f, 0f}, out.get(0).toFloatArray(), 1e-5f);
  }

  @Test
  void clippedSurrogateTakesThePessimisticTerm() {
    // ratios 1.5, 0.5, 1; A = 1, 1, −1; ε = 0.2
    // pg1 = −A·r = [−1.5, −0.5, 1]; pg2 = −A·clip(r) = [−1.2, −0.8, 1]; max = [−1.2, −0.5, 1] → −0.7/3
    NDArray logp = row((float) Math.log(1.5), (float) Math.log(0.5), 0);
    PpoMath.PolicyLoss l = PpoMath.policyLoss(logp, row(0, 0, 0), row(1, 1, -1), row(1, 1, 1), 0.2);
    assertEquals(-0.7 / 3, l.loss().getFloat(), 1e-6);
    assertEquals(1.0 / 3, l.clipfrac().getFloat(), 1e-6, "only the first token was clipped");
    double approxKl = 0.5 * (Math.pow(Math.log(1.5), 2) + Math.pow(Math.log(0.5), 2)) / 3;
    assertEquals(approxKl, l.approxKl().getFloat(), 1e-6);
    assertEquals(1.0, l.ratioMean().getFloat(), 1e-6);
  }

  @Test
  void valueLossIsClippedAroundTheOldValues() {
    // V = [1, 0], V_old = [0.5, 0.5], R = [2, 0], ε_v = 0.2 → vclip = [0.7, 0.3]
    // (V−R)² = [1, 0], (vclip−R)² = [1.69, 0.09], max = [1.69, 0.09] → ½·mean = 0.445
    PpoMath.ValueLoss l = PpoMath.valueLoss(row(1, 0), row(0.5f, 0.5f), row(2, 0), row(1, 1), 0.2);
    assertEquals(0.445, l.loss().getFloat(), 1e-6);
    assertEquals(1.0, l.clipfrac().getFloat(), 1e-6);
  }

  @Test
  void whitenUsesTheMaskedMeanAndUnbiasedVariance() {
    // [1, 2, 3, 4] (+ a padded 100): mean 2.5, var = 5/3, std = 1.290994
    NDArray w = PpoMath.whiten(row(1, 2, 3, 4, 100), row(1, 1, 1, 1, 0), true);
    assertArrayEquals(new float[] {-1.161895f, -0.387298f, 0.387298f, 1.161895f, 0f}, w.toFloatArray(), 1e-5f);
    NDArray unshifted = PpoMath.whiten(row(1, 2, 3, 4), row(1, 1, 1, 1), false);
    assertEquals(2.5, PpoMath.maskedMean(unshifted, row(1, 1, 1, 1)).getFloat(), 1e-5, "the mean is kept");
  }

  @Test
  void rewardIsTheKlPenaltyPlusTheScoreOnTheLastToken() {
    // logπ − logπ_ref = [0.5, 0, −0.5], the last token is padding; β = 0.1, score 3
    NDArray kl = PpoMath.klPenalty(row(-1, -2, -3), row(-1.5f, -2, -2.5f), row(1, 1, 0), "kl");
    assertArrayEquals(new float[] {0.5f, 0f, 0f}, kl.toFloatArray(), 1e-6f);
    NDArray rewards = PpoMath.rewardsWithKl(nd.create(new float[] {3f}), kl, row(1, 1, 0), 0.1);
    assertArrayEquals(new float[] {-0.05f, 3.0f, 0f}, rewards.toFloatArray(), 1e-6f);
    assertArrayEquals(new float[] {0.125f, 0f, 0f},
        PpoMath.klPenalty(row(-1, -2, -3), row(-1.5f, -2, -2.5f), row(1, 1, 0), "mse").toFloatArray(), 1e-6f);
  }

  @Test
  void entropyOfAUniformDistributionIsLogK() {
    NDArray logits = nd.zeros(new Shape(1, 2, 4));
    assertEquals(Math.log(4), PpoMath.entropy(logits, row(1, 1)).getFloat(), 1e-6);
  }

  @Test
  void adaptiveKlCoefficientFollowsZieglerEtAl() {
    // error = clip(8/6 − 1, −0.2, 0.2) = 0.2; β = 0.2 · (1 + 0.2·256/10000) = 0.201024
    AdaptiveKlController kl = new AdaptiveKlController(0.2, 6, 10_000);
    assertEquals(0.201024, kl.update(8, 256), 1e-9);
    // Below target the coefficient shrinks: error = 3/6 − 1 = −0.5 → −0.2
    assertEquals(0.201024 * (1 - 0.2 * 256 / 10_000.0), kl.update(3, 256), 1e-9);
  }
}
