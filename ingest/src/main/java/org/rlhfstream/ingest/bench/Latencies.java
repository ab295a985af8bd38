package org.rlhfstream.ingest.bench;

import java.util.Arrays;

/** Latency samples of one benchmark phase, in nanoseconds; percentiles by sorting. Thread-safe. */
final class Latencies {

  private long[] samples = new long[1 << 16];
  private int size;

  synchronized void record(long nanos) {
    if (size == samples.length) {
      samples = Arrays.copyOf(samples, size * 2);
    }
    samples[size++] = nanos;
  }

  synchronized int count() {
    return size;
  }

  /** The {@code q}-quantile (0..1) in milliseconds; NaN when nothing was recorded. */
  synchronized double percentileMillis(double q) {
    if (size == 0) {
      return Double.NaN;
    }
    long[] sorted = Arrays.copyOf(samples, size);
    Arrays.sort(sorted);
    int index = (int) Math.min(size - 1, Math.max(0, Math.ceil(q * size) - 1));
    return sorted[index] / 1e6;
  }
}
