package org.rlhfstream.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class DedupWindowTest {

  private final AtomicLong now = new AtomicLong();
  private final DedupWindow window = new DedupWindow(Duration.ofSeconds(10), 3, now::get);

  @Test
  void aWrittenIdIsADuplicateWithinTheWindowAndNewAfterIt() {
    DedupWindow.Owner owner = assertInstanceOf(DedupWindow.Owner.class, window.claim("a"));
    window.written(owner);
    assertInstanceOf(DedupWindow.Duplicate.class, window.claim("a"));
    now.addAndGet(Duration.ofSeconds(11).toNanos());
    assertInstanceOf(DedupWindow.Owner.class, window.claim("a"), "forgotten after the window");
  }

  @Test
  void aSecondClaimWhileTheFirstIsWritingWaitsForItsOutcome() {
    DedupWindow.Owner owner = assertInstanceOf(DedupWindow.Owner.class, window.claim("a"));
    DedupWindow.Wait wait = assertInstanceOf(DedupWindow.Wait.class, window.claim("a"));
    DedupWindow.Wait another = assertInstanceOf(DedupWindow.Wait.class, window.claim("a"));
    assertSame(wait.outcome(), another.outcome(), "every waiter waits for the same write");
    assertTrue(!wait.outcome().isDone());
    window.written(owner);
    assertTrue(wait.outcome().isDone() && !wait.outcome().isCompletedExceptionally());
  }

  @Test
  void aFailedWriteIsForgottenSoThatTheResendWritesIt() {
    DedupWindow.Owner owner = assertInstanceOf(DedupWindow.Owner.class, window.claim("a"));
    DedupWindow.Wait wait = assertInstanceOf(DedupWindow.Wait.class, window.claim("a"));
    window.failed(owner, new RuntimeException("kafka down"));
    assertTrue(wait.outcome().isCompletedExceptionally(), "the waiter fails with the owner");
    assertInstanceOf(DedupWindow.Owner.class, window.claim("a"));
  }

  @Test
  void theOldestIdsAreForgottenBeyondCapacity() {
    for (String id : new String[] {"a", "b", "c", "d"}) {
      window.written((DedupWindow.Owner) window.claim(id));
      now.incrementAndGet();
    }
    assertEquals(3, window.size());
    assertInstanceOf(DedupWindow.Owner.class, window.claim("a"), "a was the oldest");
    assertInstanceOf(DedupWindow.Duplicate.class, window.claim("d"));
  }

  @Test
  void tenantsDoNotShareIds() {
    window.written((DedupWindow.Owner) window.claim(DedupWindow.key("acme", "e1")));
    assertInstanceOf(DedupWindow.Owner.class, window.claim(DedupWindow.key("other", "e1")));
  }
}
