package org.rlhfstream.ingest;

import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * Remembers recently written event ids so that a resend is acknowledged without being written
 * twice. In memory and per ingest process: a resend to another replica, after a restart, or
 * after the id left the window is written again (the reward service de-duplicates by event id
 * downstream, so that is safe, merely wasteful).
 *
 * <p>An id is in one of two states:
 *
 * <ul>
 *   <li><b>pending</b>: a request is writing it now. A second request with the same id does not
 *       write it again; it waits for the first write and succeeds or fails with it (a failure
 *       means the client resends, which is safe).
 *   <li><b>written</b>: Kafka acknowledged it at a known time. Within {@code window} (and while
 *       fewer than {@code capacity} newer ids were written) a resend is a duplicate.
 * </ul>
 *
 * <p>Thread-safe; every operation is O(1) amortised under one lock.
 */
final class DedupWindow {

  /** What a request should do with one event id. */
  sealed interface Claim permits Owner, Duplicate, Wait {}

  /** Write it; then report {@link DedupWindow#written} or {@link DedupWindow#failed}. */
  record Owner(String key, CompletableFuture<Void> outcome) implements Claim {}

  /** Already written within the window: acknowledge, do not write. */
  record Duplicate() implements Claim {}

  /** Another request is writing it: acknowledge when that write succeeds. */
  record Wait(CompletableFuture<Void> outcome) implements Claim {}

  private static final Duplicate DUPLICATE = new Duplicate();

  private final long windowNanos;
  private final int capacity;
  private final LongSupplier clock;
  private final Map<String, CompletableFuture<Void>> pending = new HashMap<>();
  /** Written ids in the order they were acknowledged, with the time of it. */
  private final LinkedHashMap<String, Long> written = new LinkedHashMap<>();

  DedupWindow(Duration window, int capacity) {
    this(window, capacity, System::nanoTime);
  }

  DedupWindow(Duration window, int capacity, LongSupplier nanoClock) {
    this.windowNanos = window.toNanos();
    this.capacity = capacity;
    this.clock = nanoClock;
  }

  /** The key of an event: ids are the sender's choice, so one tenant's ids never hide another's. */
  static String key(String tenant, String eventId) {
    return tenant + '\u0000' + eventId;
  }

  synchronized Claim claim(String key) {
    CompletableFuture<Void> inFlight = pending.get(key);
    if (inFlight != null) {
      return new Wait(inFlight);
    }
    long now = clock.getAsLong();
    evictExpired(now);
    Long at = written.get(key);
    if (at != null && now - at <= windowNanos) {
      return DUPLICATE;
    }
    CompletableFuture<Void> outcome = new CompletableFuture<>();
    pending.put(key, outcome);
    return new Owner(key, outcome);
  }

  /** Kafka acknowledged the owner's write. */
  void written(Owner owner) {
    synchronized (this) {
      pending.remove(owner.key());
      if (capacity > 0 && windowNanos > 0) {
        written.remove(owner.key()); // re-insert at the end: the order is acknowledgement order
        written.put(owner.key(), clock.getAsLong());
        while (written.size() > capacity) {
          Iterator<String> oldest = written.keySet().iterator();
          oldest.next();
          oldest.remove();
        }
      }
    }
    owner.outcome().complete(null); // outside the lock: waiters run their callbacks here
  }

  /** The owner's write failed: forget the id, so that the resend writes it. */
  void failed(Owner owner, Throwable cause) {
    synchronized (this) {
      pending.remove(owner.key());
    }
    owner.outcome().completeExceptionally(cause);
  }

  synchronized int size() {
    return written.size() + pending.size();
  }

  private void evictExpired(long now) {
    Iterator<Map.Entry<String, Long>> it = written.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<String, Long> oldest = it.next();
      if (now - oldest.getValue() <= windowNanos) {
        return;
      }
      it.remove();
    }
  }
}
