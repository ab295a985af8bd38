package org.rlhfstream.policy;

/**
 * The adaptive KL coefficient of Ziegler et al. 2019 (section 2.2): β grows when the measured KL
 * exceeds the target and shrinks when it falls below, by at most 20% of the error per horizon.
 * {@code error = clip(KL / target − 1, −0.2, 0.2)}, {@code β ← β · (1 + error · n / horizon)}.
 */
public final class AdaptiveKlController {

  private final double target;
  private final double horizon;
  private double value;

  public AdaptiveKlController(double initial, double target, double horizon) {
    if (!(initial >= 0) || !(target > 0) || !(horizon > 0)) {
      throw new IllegalArgumentException("need initial ≥ 0, target > 0, horizon > 0");
    }
    this.value = initial;
    this.target = target;
    this.horizon = horizon;
  }

  /** The current β. */
  public double value() {
    return value;
  }

  /** Updates β after {@code steps} samples measured a mean KL of {@code currentKl}. */
  public double update(double currentKl, long steps) {
    double error = Math.max(-0.2, Math.min(0.2, currentKl / target - 1));
    value *= 1 + error * steps / horizon;
    return value;
  }
}
