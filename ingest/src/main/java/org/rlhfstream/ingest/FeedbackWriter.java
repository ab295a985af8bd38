package org.rlhfstream.ingest;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.SubmitResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes validated comparisons to the feedback topic, keyed by event id, and completes a
 * request's future only once Kafka acknowledged every one of its events (the producer runs with
 * {@code acks=all} and idempotence, see {@link FeedbackProducer}).
 *
 * <p>Two bounds keep a slow or absent Kafka from piling work up:
 *
 * <ul>
 *   <li>in-flight events and bytes are counted; a request that would exceed either is refused at
 *       once with {@link Rejection#OVERLOADED} (503 + Retry-After);
 *   <li>the producer's delivery timeout fails events that Kafka does not acknowledge in time, so
 *       every request is answered (503 {@link Rejection#KAFKA_UNAVAILABLE}) within about that
 *       long; such events may still have been written, which is safe because the client resends
 *       with the same event ids.
 * </ul>
 *
 * <p>{@code send} is called on the event loop: the producer runs with {@code max.block.ms=0}, so
 * it never waits for metadata or buffer space (it fails instead, and the request gets 503); the
 * in-flight bound keeps the buffer from filling. Acknowledgements arrive on the producer's I/O
 * thread and are handed back to the request's context.
 */
final class FeedbackWriter {

  private static final Logger log = LoggerFactory.getLogger(FeedbackWriter.class);

  private final Vertx vertx;
  private final Producer<String, byte[]> producer;
  private final String topic;
  private final IngestConfig.Limits limits;
  private final DedupWindow dedup;
  private final AtomicInteger inFlightEvents = new AtomicInteger();
  private final AtomicInteger inFlightRequests = new AtomicInteger();
  private final java.util.concurrent.atomic.AtomicLong inFlightBytes = new java.util.concurrent.atomic.AtomicLong();
  private volatile boolean closing;

  FeedbackWriter(Vertx vertx, Producer<String, byte[]> producer, String topic, IngestConfig.Limits limits,
      DedupWindow dedup) {
    this.vertx = vertx;
    this.producer = producer;
    this.topic = topic;
    this.limits = limits;
    this.dedup = dedup;
  }

  /**
   * Writes a validated submission and reports how many were accepted and how many of
   * those were duplicates. Call it on a Vert.x context: the future completes on that context.
   */
  Future<SubmitResponse> write(Submission submission) {
    if (closing) {
      return Future.failedFuture(new IngestException(Rejection.SHUTTING_DOWN, "ingest is shutting down; retry later"));
    }
    List<Comparison> events = submission.items();
    byte[][] values = submission.encode();
    long bytes = 0;
    for (byte[] v : values) {
      bytes += v.length;
    }
    if (!acquire(values.length, bytes)) {
      return Future.failedFuture(new IngestException(Rejection.OVERLOADED,
          "too many events are waiting for Kafka; retry after the Retry-After delay"));
    }

    // Claim every id first (one lock): decide what this request writes, and what it only waits for.
    String[] keys = new String[values.length];
    for (int i = 0; i < keys.length; i++) {
      Comparison c = events.get(i);
      keys[i] = DedupWindow.key(c.getTenant(), c.getEventId());
    }
    DedupWindow.Claim[] claims = dedup.claimAll(keys);
    List<ProducerRecord<String, byte[]>> toSend = new ArrayList<>(values.length);
    List<DedupWindow.Owner> owners = new ArrayList<>(values.length);
    List<CompletableFuture<Void>> waits = new ArrayList<>();
    int duplicates = 0;
    long ownedBytes = 0;
    for (int i = 0; i < values.length; i++) {
      if (claims[i] instanceof DedupWindow.Owner owner) {
        toSend.add(new ProducerRecord<>(topic, events.get(i).getEventId(), values[i]));
        owners.add(owner);
        ownedBytes += values[i].length;
      } else {
        duplicates++;
        if (claims[i] instanceof DedupWindow.Wait wait) {
          waits.add(wait.outcome());
        }
      }
    }
    release(values.length - toSend.size(), bytes - ownedBytes);

    SubmitResponse reply = SubmitResponse.newBuilder().setAccepted(events.size()).setDuplicates(duplicates).build();
    if (toSend.isEmpty() && waits.isEmpty()) {
      return Future.succeededFuture(reply);
    }
    Promise<SubmitResponse> promise = Promise.promise();
    RequestState state = new RequestState(vertx.getOrCreateContext(), promise, reply, owners, ownedBytes,
        (toSend.isEmpty() ? 0 : 1) + waits.size());
    inFlightRequests.incrementAndGet();
    for (CompletableFuture<Void> wait : waits) {
      wait.whenComplete((ok, err) -> state.partDone(err));
    }
    if (!toSend.isEmpty()) {
      send(toSend, state);
    }
    return promise.future();
  }

  /** Sends on the calling thread (the event loop): with max.block.ms=0 the producer never waits. */
  private void send(List<ProducerRecord<String, byte[]>> records, RequestState state) {
    Callback acknowledgement = (metadata, exception) -> state.sendDone(exception);
    for (ProducerRecord<String, byte[]> record : records) {
      Throwable earlier = state.failure.get();
      if (earlier != null) {
        state.sendDone(earlier); // the request fails anyway: do not write the rest
        continue;
      }
      try {
        producer.send(record, acknowledgement);
      } catch (RuntimeException e) {
        // send() throws (rather than calling back) for a closed producer and for records it
        // refuses outright.
        state.sendDone(e);
      }
    }
  }

  /** Counts a request in; a request alone may exceed the limits (else it could never pass). */
  private boolean acquire(int events, long bytes) {
    int eventsAfter = inFlightEvents.addAndGet(events);
    if (eventsAfter > limits.maxInFlightEvents() && eventsAfter != events) {
      inFlightEvents.addAndGet(-events);
      return false;
    }
    long bytesAfter = inFlightBytes.addAndGet(bytes);
    if (bytesAfter > limits.maxInFlightBytes() && bytesAfter != bytes) {
      inFlightBytes.addAndGet(-bytes);
      inFlightEvents.addAndGet(-events);
      return false;
    }
    return true;
  }

  private void release(int events, long bytes) {
    if (events > 0) {
      inFlightEvents.addAndGet(-events);
    }
    if (bytes > 0) {
      inFlightBytes.addAndGet(-bytes);
    }
  }

  int inFlightEvents() {
    return inFlightEvents.get();
  }

  long inFlightBytes() {
    return inFlightBytes.get();
  }

  int inFlightRequests() {
    return inFlightRequests.get();
  }

  /** Refuses new requests from now on (503 shutting_down); requests already accepted go on. */
  void beginClosing() {
    closing = true;
  }

  /**
   * Waits (blocking: call from a worker thread) until every accepted request was answered or
   * {@code timeout} passed.
   */
  void drainBlocking(Duration timeout) throws InterruptedException {
    closing = true;
    long deadline = System.nanoTime() + timeout.toNanos();
    while ((inFlightRequests.get() > 0 || inFlightEvents.get() > 0) && System.nanoTime() < deadline) {
      Thread.sleep(10); // polling a counter with a deadline during shutdown
    }
    if (inFlightRequests.get() > 0) {
      log.warn("{} requests were still waiting for Kafka after {}", inFlightRequests.get(), timeout);
    }
  }

  /**
   * One request's progress. Its sends settle together: when the last acknowledgement (or error)
   * arrives, its ids are marked written (or forgotten) and its in-flight share released at once;
   * the reply goes out when the sends and every id it waited for are settled.
   */
  private final class RequestState {
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Context context;
    private final Promise<SubmitResponse> promise;
    private final SubmitResponse reply;
    private final List<DedupWindow.Owner> owners;
    private final long ownedBytes;
    private final AtomicInteger sendsLeft;
    private final AtomicInteger partsLeft;

    RequestState(Context context, Promise<SubmitResponse> promise, SubmitResponse reply, List<DedupWindow.Owner> owners,
        long ownedBytes, int parts) {
      this.context = context;
      this.promise = promise;
      this.reply = reply;
      this.owners = owners;
      this.ownedBytes = ownedBytes;
      this.sendsLeft = new AtomicInteger(owners.size());
      this.partsLeft = new AtomicInteger(parts);
    }

    /** One record acknowledged (error null) or failed. Runs on the producer's I/O thread. */
    void sendDone(Throwable error) {
      if (error != null) {
        failure.compareAndSet(null, error);
      }
      if (sendsLeft.decrementAndGet() == 0) {
        dedup.settle(owners, failure.get());
        release(owners.size(), ownedBytes);
        partDone(null);
      }
    }

    /** The sends, or one id another request was writing, are settled. */
    void partDone(Throwable error) {
      if (error != null) {
        failure.compareAndSet(null, error);
      }
      if (partsLeft.decrementAndGet() == 0) {
        inFlightRequests.decrementAndGet();
        Throwable first = failure.get();
        // Back to the request's own context: its reply is written from there.
        context.runOnContext(v -> {
          if (first == null) {
            promise.complete(reply);
          } else {
            promise.fail(asRejection(first));
          }
        });
      }
    }
  }

  private static IngestException asRejection(Throwable error) {
    if (error instanceof IngestException ie) {
      return ie;
    }
    if (error instanceof org.apache.kafka.common.errors.RecordTooLargeException) {
      return IngestException.of(Rejection.BODY_TOO_LARGE, new Violation("comparisons", "max_bytes",
          "an event is larger than the Kafka broker accepts (message.max.bytes): " + error.getMessage()));
    }
    return new IngestException(Rejection.KAFKA_UNAVAILABLE,
        "Kafka did not acknowledge every event (" + error.getClass().getSimpleName() + ": " + error.getMessage()
            + "); resend the request (same event ids are safe)");
  }
}
