package org.rlhfstream.model.train;

/**
 * Learning rate as a function of the optimizer step (0-based): linear warm-up, then constant,
 * cosine or linear decay.
 */
@FunctionalInterface
public interface LrSchedule {
  double at(long step);

  static LrSchedule constant(double lr) {
    return step -> lr;
  }

  /**
   * Linear warm-up from 0 to {@code peak} over {@code warmup} steps, then cosine decay to {@code
   * min} at {@code total} steps (and {@code min} after).
   */
  static LrSchedule warmupCosine(double peak, long warmup, long total, double min) {
    check(peak, warmup, total);
    return step -> {
      if (step < warmup) {
        return peak * (step + 1) / warmup;
      }
      if (step >= total) {
        return min;
      }
      double progress = (double) (step - warmup) / Math.max(1, total - warmup);
      return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  }

  /** Linear warm-up to {@code peak}, then linear decay to {@code end} at {@code total} steps. */
  static LrSchedule warmupLinear(double peak, long warmup, long total, double end) {
    check(peak, warmup, total);
    return step -> {
      if (step < warmup) {
        return peak * (step + 1) / warmup;
      }
      if (step >= total) {
        return end;
      }
      double progress = (double) (step - warmup) / Math.max(1, total - warmup);
      return peak + (end - peak) * progress;
    };
  }

  private static void check(double peak, long warmup, long total) {
    if (!(peak > 0)) {
      throw new IllegalArgumentException("peak learning rate must be positive, got " + peak);
    }
    if (warmup < 0 || total < warmup) {
      throw new IllegalArgumentException("need 0 <= warmup <= total steps, got " + warmup + " / " + total);
    }
  }
}
