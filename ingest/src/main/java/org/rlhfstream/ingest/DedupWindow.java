package org.rlhfstream.ingest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
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
 *       fewer than {@code capacity} newer ids were claimed) a resend is a duplicate.
 * </ul>
 *
 * <p>Ids are kept in the order they were first claimed; the oldest written ones are forgotten
 * first. Pending ids are never forgotten (the in-flight limit bounds them). Thread-safe; each
 * operation is O(1) amortised under one lock.
 */
final class DedupWindow {

  /** What a request should do with one event id. */
  sealed interface Claim permits Owner, Duplicate, Wait {}

  /** Write it; then report {@link DedupWindow#written} or {@link DedupWindow#failed}. */
  record Owner(String key, Entry entry) implements Claim {}

  /** Already written within the window: acknowledge, do not write. */
  record Duplicate() implements Claim {}

  /** Another request is writing it: acknowledge when that write succeeds. */
  record Wait(CompletableFuture<Void> outcome) implements Claim {}

  /** One remembered id. Guarded by the window's lock. */
  static final class Entry {
    private boolean pending = true;
    private long writtenAt;
    /** Created only when a second request waits for this one (rare). */
    private CompletableFuture<Void> waiters;
  }

  private static final Duplicate DUPLICATE = new Duplicate();

  private final long windowNanos;
  private final int capacity;
  private final LongSupplier clock;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

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

  /** Claims every key of a request under one lock; the claims are in the keys' order. */
  synchronized Claim[] claimAll(String[] keys) {
    Claim[] claims = new Claim[keys.length];
    for (int i = 0; i < keys.length; i++) {
      claims[i] = claim(keys[i]);
    }
    return claims;
  }

  synchronized Claim claim(String key) {
    Entry e = entries.get(key);
    if (e != null) {
      if (e.pending) {
        if (e.waiters == null) {
          e.waiters = new CompletableFuture<>();
        }
        return new Wait(e.waiters);
      }
      if (clock.getAsLong() - e.writtenAt <= windowNanos) {
        return DUPLICATE;
      }
      entries.remove(key); // expired: claim it anew, at the end of the order
    }
    Entry fresh = new Entry();
    entries.put(key, fresh);
    return new Owner(key, fresh);
  }

  /**
   * Settles a request's owners under one lock: written when {@code cause} is null, else forgotten
   * (so that the resend writes them); then wakes whoever waited for them.
   */
  void settle(List<Owner> owners, Throwable cause) {
    List<CompletableFuture<Void>> woken = null;
    synchronized (this) {
      long now = clock.getAsLong();
      for (Owner owner : owners) {
        Entry e = owner.entry();
        if (cause == null) {
          e.pending = false;
          e.writtenAt = now;
          if (capacity == 0 || windowNanos == 0) {
            entries.remove(owner.key(), e);
          }
        } else {
          entries.remove(owner.key(), e);
        }
        if (e.waiters != null) {
          if (woken == null) {
            woken = new ArrayList<>();
          }
          woken.add(e.waiters);
          e.waiters = null;
        }
      }
      if (cause == null) {
        evict(now);
      }
    }
    if (woken != null) {
      for (CompletableFuture<Void> w : woken) {
        if (cause == null) {
          w.complete(null);
        } else {
          w.completeExceptionally(cause);
        }
      }
    }
  }

  /** Kafka acknowledged the owner's write. */
  void written(Owner owner) {
    settle(List.of(owner), null);
  }

  /** The owner's write failed: forget the id, so that the resend writes it. */
  void failed(Owner owner, Throwable cause) {
    settle(List.of(owner), cause);
  }

  synchronized int size() {
    return entries.size();
  }

  /** Forgets, oldest first, written ids past the window or beyond capacity; stops at a pending one. */
  private void evict(long now) {
    Iterator<Entry> it = entries.values().iterator();
    while (it.hasNext()) {
      Entry oldest = it.next();
      if (oldest.pending) {
        return;
      }
      if (entries.size() > capacity || now - oldest.writtenAt > windowNanos) {
        it.remove();
      } else {
        return;
      }
    }
  }
}
