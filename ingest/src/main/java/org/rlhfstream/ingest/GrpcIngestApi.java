package org.rlhfstream.ingest;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.common.WireFormat;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.ArrayList;
import java.util.List;
import org.rlhfstream.ingest.IngestMetrics.Transport;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.SubmitResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code rlhf.v1.FeedbackService} on the Vert.x gRPC server. Messages arrive as bytes and are
 * parsed here, so that errors name the field (as over HTTP). Status codes: INVALID_ARGUMENT
 * (malformed or invalid), UNAUTHENTICATED, PERMISSION_DENIED (tenant), RESOURCE_EXHAUSTED
 * (message too large), UNAVAILABLE (overloaded, Kafka down, stopping: resend).
 */
final class GrpcIngestApi {

  static final ServiceName SERVICE = ServiceName.create("rlhf.v1", "FeedbackService");
  static final ServiceMethod<Buffer, SubmitResponse> SUBMIT_BATCH =
      ServiceMethod.server(SERVICE, "SubmitBatch", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.IDENTITY);
  static final ServiceMethod<Buffer, SubmitResponse> STREAM_COMPARISONS =
      ServiceMethod.server(SERVICE, "StreamComparisons", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.IDENTITY);

  private static final Logger log = LoggerFactory.getLogger(GrpcIngestApi.class);

  private final Authenticator authenticator;
  private final ComparisonValidator validator;
  private final FeedbackWriter writer;
  private final IngestMetrics metrics;
  private final IngestConfig.Limits limits;

  GrpcIngestApi(Authenticator authenticator, ComparisonValidator validator, FeedbackWriter writer, IngestMetrics metrics,
      IngestConfig.Limits limits) {
    this.authenticator = authenticator;
    this.validator = validator;
    this.writer = writer;
    this.metrics = metrics;
    this.limits = limits;
  }

  void mount(GrpcServer server) {
    server.callHandler(SUBMIT_BATCH, this::submitBatch);
    server.callHandler(STREAM_COMPARISONS, this::streamComparisons);
  }

  /** Unary: one ComparisonBatch, all-or-nothing. */
  private void submitBatch(GrpcServerRequest<Buffer, SubmitResponse> call) {
    Reply reply = new Reply(call);
    if (!protobuf(call, reply)) {
      return;
    }
    call.invalidMessageHandler(invalid -> reply.send(Future.failedFuture(invalidMessage(invalid))));
    Future<Principal> principal = authenticator.authenticate(call.headers());
    Future<SubmitResponse> result = principal
        .compose(p -> call.last().map(message -> {
          if (message == null) {
            throw IngestException.of(Rejection.MALFORMED, new Violation("body", "protobuf", "no ComparisonBatch was sent"));
          }
          ComparisonDecoder.Decoded decoded = ComparisonDecoder.fromProtobuf(message.getBytes(), false);
          return validator.prepare(p, decoded, limits.maxBatchItems());
        }))
        .compose(writer::write);
    result.onComplete(reply::send);
  }

  /**
   * Client streaming: comparisons are checked as they arrive (the first bad one ends the call)
   * and held until the client ends the stream; then all are written, or none.
   */
  private void streamComparisons(GrpcServerRequest<Buffer, SubmitResponse> call) {
    Reply reply = new Reply(call);
    if (!protobuf(call, reply)) {
      return;
    }
    Future<Principal> principal = authenticator.authenticate(call.headers());
    if (principal.failed()) {
      reply.send(Future.failedFuture(principal.cause()));
      return;
    }
    List<Comparison> items = new ArrayList<>();
    List<byte[]> wire = new ArrayList<>();
    List<Violation> violations = new ArrayList<>();
    call.invalidMessageHandler(invalid -> reply.send(Future.failedFuture(invalidMessage(invalid))));
    call.handler(message -> {
      if (reply.sent()) {
        return;
      }
      String path = "comparisons[" + items.size() + "]";
      try {
        if (items.size() >= limits.maxStreamItems()) {
          throw IngestException.of(Rejection.INVALID, new Violation("comparisons", "max_items",
              "a stream may hold at most " + limits.maxStreamItems() + " comparisons; end it and start another"));
        }
        byte[] bytes = message.getBytes();
        Comparison c = ComparisonDecoder.streamedComparison(bytes, path);
        validator.check(c, path + ".", violations, true);
        ComparisonValidator.throwIfAny(violations);
        items.add(c);
        wire.add(bytes);
      } catch (IngestException e) {
        items.clear();
        wire.clear();
        reply.send(Future.failedFuture(e));
      }
    });
    call.endHandler(v -> {
      if (reply.sent()) {
        return;
      }
      principal
          .map(p -> validator.authorize(p, items, wire, true))
          .compose(writer::write)
          .onComplete(reply::send);
    });
  }

  private boolean protobuf(GrpcServerRequest<Buffer, SubmitResponse> call, Reply reply) {
    if (call.format() != WireFormat.PROTOBUF) {
      reply.send(Future.failedFuture(IngestException.of(Rejection.UNSUPPORTED_MEDIA_TYPE,
          new Violation("content-type", "media_type", "only application/grpc (protobuf) is served"))));
      return false;
    }
    return true;
  }

  private IngestException invalidMessage(Throwable invalid) {
    if (invalid instanceof MessageSizeOverflowException) {
      return IngestException.of(Rejection.BODY_TOO_LARGE, new Violation("body", "max_bytes",
          "a message is larger than " + limits.maxBodyBytes() + " bytes"));
    }
    return IngestException.of(Rejection.MALFORMED, new Violation("body", "protobuf", String.valueOf(invalid.getMessage())));
  }

  /** The one reply of a call: later attempts (a second error on the same call) are ignored. */
  private final class Reply {
    private final GrpcServerRequest<Buffer, SubmitResponse> call;
    private final long start = System.nanoTime();
    private boolean sent;

    Reply(GrpcServerRequest<Buffer, SubmitResponse> call) {
      this.call = call;
    }

    boolean sent() {
      return sent;
    }

    void send(io.vertx.core.AsyncResult<SubmitResponse> outcome) {
      if (sent) {
        return;
      }
      sent = true;
      if (outcome.succeeded()) {
        SubmitResponse reply = outcome.result();
        metrics.accepted(Transport.GRPC, reply.getAccepted(), reply.getDuplicates(), start);
        call.response().end(reply);
        return;
      }
      IngestException error;
      if (outcome.cause() instanceof IngestException ie) {
        error = ie;
      } else {
        log.error("Unexpected failure on gRPC {}", call.fullMethodName(), outcome.cause());
        error = new IngestException(Rejection.KAFKA_UNAVAILABLE, "the call could not be completed; resend it");
      }
      metrics.rejected(Transport.GRPC, error.rejection(), start);
      call.response().status(error.rejection().grpcStatus).statusMessage(error.statusMessage()).end();
    }
  }
}
