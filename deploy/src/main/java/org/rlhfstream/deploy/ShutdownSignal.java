package org.rlhfstream.deploy;

import java.util.concurrent.CountDownLatch;

/** Blocks the command's thread until Ctrl-C / SIGTERM, then closes what it was given. */
final class ShutdownSignal {

  private ShutdownSignal() {}

  static void awaitThenClose(AutoCloseable running) throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        running.close();
      } catch (Exception ignored) {
        // Shutting down anyway; each component logs its own errors.
      } finally {
        stopped.countDown();
      }
    }, "rlhf-shutdown"));
    stopped.await();
  }
}
