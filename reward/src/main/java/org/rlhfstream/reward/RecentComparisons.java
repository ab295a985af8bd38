package org.rlhfstream.reward;

import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.ComparisonBatch;

/**
 * The most recent {@code capacity} comparisons, oldest evicted first. Used twice: as the replay
 * buffer (recent training comparisons mixed into new batches) and as the held-out set.
 */
final class RecentComparisons {

  private final Comparison[] ring;
  private int next;
  private int size;

  RecentComparisons(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be ≥ 1");
    }
    ring = new Comparison[capacity];
  }

  void add(Comparison c) {
    ring[next] = c;
    next = (next + 1) % ring.length;
    size = Math.min(size + 1, ring.length);
  }

  int size() {
    return size;
  }

  /** All held comparisons, oldest first. */
  List<Comparison> all() {
    List<Comparison> out = new ArrayList<>(size);
    int start = size < ring.length ? 0 : next;
    for (int i = 0; i < size; i++) {
      out.add(ring[(start + i) % ring.length]);
    }
    return out;
  }

  /** {@code n} comparisons drawn uniformly with replacement (fewer if the buffer is empty). */
  List<Comparison> sample(int n, SplittableRandom random) {
    List<Comparison> out = new ArrayList<>(n);
    for (int i = 0; i < n && size > 0; i++) {
      out.add(ring[random.nextInt(size)]);
    }
    return out;
  }

  byte[] toBytes() {
    return ComparisonBatch.newBuilder().addAllComparisons(all()).build().toByteArray();
  }

  static RecentComparisons fromBytes(byte[] bytes, int capacity) throws InvalidProtocolBufferException {
    RecentComparisons r = new RecentComparisons(capacity);
    ComparisonBatch.parseFrom(bytes).getComparisonsList().forEach(r::add);
    return r;
  }
}
