package org.rlhfstream.ingest;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.Locale;
import org.rlhfstream.ingest.IngestMetrics.Transport;
import org.rlhfstream.proto.v1.SubmitResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v1/comparisons}: one comparison or a batch, as proto3 JSON or binary protobuf.
 * The steps, each of which may refuse the request before the next: credentials (401) → content
 * type (415) → body size (413) → parse (400 malformed) → rules (400 invalid) → tenants (403) →
 * in-flight bound (503) → Kafka acknowledges every event → 202. See {@code openapi.yaml}.
 */
final class HttpIngestApi {

  static final String PATH = "/v1/comparisons";
  static final String OPENAPI_PATH = "/openapi.yaml";
  static final String PROTOBUF = "application/x-protobuf";
  private static final String JSON = "application/json";

  private static final Logger log = LoggerFactory.getLogger(HttpIngestApi.class);

  private final Authenticator authenticator;
  private final ComparisonValidator validator;
  private final FeedbackWriter writer;
  private final IngestMetrics metrics;
  private final IngestConfig.Limits limits;
  private final Buffer openapi;
  private final String retryAfterSeconds;

  HttpIngestApi(Authenticator authenticator, ComparisonValidator validator, FeedbackWriter writer, IngestMetrics metrics,
      IngestConfig.Limits limits, Buffer openapi) {
    this.authenticator = authenticator;
    this.validator = validator;
    this.writer = writer;
    this.metrics = metrics;
    this.limits = limits;
    this.openapi = openapi;
    this.retryAfterSeconds = String.valueOf(limits.retryAfter().toSeconds());
  }

  void mount(Router router) {
    router.post(PATH).handler(this::submit);
    router.get(OPENAPI_PATH).handler(ctx -> ctx.response()
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/yaml; charset=utf-8")
        .end(openapi));
  }

  /** How the body is encoded, from its Content-Type. */
  record BodyType(boolean json, boolean singleProtobuf) {}

  private void submit(RoutingContext ctx) {
    long start = System.nanoTime();
    HttpServerRequest request = ctx.request();
    // Nothing is read until the credentials and the content type are known to be acceptable.
    request.pause();
    authenticator.authenticate(request.headers())
        .compose(principal -> {
          BodyType type = bodyType(request.getHeader(HttpHeaders.CONTENT_TYPE));
          return readBody(request)
              .map(body -> type.json()
                  ? ComparisonDecoder.fromJson(body)
                  : ComparisonDecoder.fromProtobuf(body, type.singleProtobuf()))
              .map(decoded -> validator.prepare(principal, decoded, limits.maxBatchItems()));
        })
        .compose(writer::write)
        .onComplete(result -> {
          if (result.succeeded()) {
            accepted(ctx, result.result(), start);
          } else {
            refused(ctx, result.cause(), start);
          }
        });
  }

  static BodyType bodyType(String contentType) {
    if (contentType == null || contentType.isBlank()) {
      throw unsupported("a Content-Type is required: application/json or " + PROTOBUF);
    }
    String[] parts = contentType.split(";");
    String media = parts[0].trim().toLowerCase(Locale.ROOT);
    String charset = null;
    String proto = null;
    for (int i = 1; i < parts.length; i++) {
      String[] kv = parts[i].trim().split("=", 2);
      if (kv.length == 2) {
        String name = kv[0].trim().toLowerCase(Locale.ROOT);
        String value = kv[1].trim().replace("\"", "");
        if (name.equals("charset")) {
          charset = value;
        } else if (name.equals("proto") || name.equals("messagetype")) {
          proto = value;
        }
      }
    }
    switch (media) {
      case JSON:
        if (charset != null && !charset.equalsIgnoreCase("utf-8")) {
          throw unsupported("JSON must be UTF-8 (got charset=" + charset + ")");
        }
        return new BodyType(true, false);
      case PROTOBUF, "application/protobuf", "application/vnd.google.protobuf":
        if (proto == null || proto.equals("rlhf.v1.ComparisonBatch")) {
          return new BodyType(false, false);
        }
        if (proto.equals("rlhf.v1.Comparison")) {
          return new BodyType(false, true);
        }
        throw unsupported("proto=" + proto + " is not accepted: use rlhf.v1.ComparisonBatch (the default) or rlhf.v1.Comparison");
      default:
        throw unsupported("Content-Type " + media + " is not accepted: use application/json or " + PROTOBUF);
    }
  }

  /** Collects the body, refusing it (413) as soon as it is known to be too large. */
  private Future<byte[]> readBody(HttpServerRequest request) {
    long max = limits.maxBodyBytes();
    long declared = contentLength(request);
    if (declared > max) {
      return Future.failedFuture(tooLarge(declared));
    }
    Promise<byte[]> promise = Promise.promise();
    BodyBytes body = new BodyBytes(declared > 0 ? (int) declared : 4096);
    request.handler(chunk -> {
      if (promise.future().isComplete()) {
        return;
      }
      if ((long) body.size + chunk.length() > max) {
        promise.tryFail(tooLarge(-1));
      } else {
        body.append(chunk);
      }
    });
    request.endHandler(v -> promise.tryComplete(body.bytes()));
    request.exceptionHandler(promise::tryFail);
    request.resume();
    return promise.future();
  }

  /** A body collected straight into a byte array (sized by Content-Length when there is one). */
  private static final class BodyBytes {
    private byte[] data;
    private int size;

    BodyBytes(int capacity) {
      data = new byte[capacity];
    }

    void append(Buffer chunk) {
      int n = chunk.length();
      if (size + n > data.length) {
        data = java.util.Arrays.copyOf(data, Math.max(size + n, data.length * 2));
      }
      chunk.getBytes(0, n, data, size);
      size += n;
    }

    byte[] bytes() {
      return size == data.length ? data : java.util.Arrays.copyOf(data, size);
    }
  }

  private void accepted(RoutingContext ctx, SubmitResponse reply, long start) {
    metrics.accepted(Transport.HTTP, reply.getAccepted(), reply.getDuplicates(), start);
    HttpServerResponse response = ctx.response().setStatusCode(202);
    String accept = ctx.request().getHeader(HttpHeaders.ACCEPT);
    if (accept != null && accept.contains(PROTOBUF)) {
      response.putHeader(HttpHeaders.CONTENT_TYPE, PROTOBUF).end(Buffer.buffer(reply.toByteArray()));
    } else {
      response.putHeader(HttpHeaders.CONTENT_TYPE, JSON)
          .end("{\"accepted\":" + reply.getAccepted() + ",\"duplicates\":" + reply.getDuplicates() + "}");
    }
  }

  private void refused(RoutingContext ctx, Throwable cause, long start) {
    HttpServerRequest request = ctx.request();
    HttpServerResponse response = ctx.response();
    IngestException error;
    if (cause instanceof IngestException ie) {
      error = ie;
    } else {
      log.error("Unexpected failure on {} {}", request.method(), request.path(), cause);
      error = new IngestException(Rejection.KAFKA_UNAVAILABLE, "the request could not be completed; resend it");
    }
    Rejection r = error.rejection();
    metrics.rejected(Transport.HTTP, r, start);
    response.setStatusCode(r.httpStatus).putHeader(HttpHeaders.CONTENT_TYPE, JSON);
    if (r.retryable()) {
      response.putHeader(HttpHeaders.RETRY_AFTER, retryAfterSeconds);
    }
    if (r == Rejection.UNAUTHENTICATED) {
      response.putHeader("WWW-Authenticate", "Bearer");
    }
    boolean unread = !request.isEnded();
    // A body we will not read: drain a small one (the connection stays usable), drop a large one.
    boolean close = unread && request.version() != HttpVersion.HTTP_2
        && (r == Rejection.BODY_TOO_LARGE || contentLength(request) < 0 || contentLength(request) > limits.maxBodyBytes());
    if (close) {
      response.putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
    }
    JsonObject body = error.toJson();
    response.end(body.toBuffer()).onComplete(done -> {
      if (close) {
        request.connection().close();
      }
    });
    if (unread && !close) {
      request.handler(null).exceptionHandler(null).resume();
    }
  }

  private static long contentLength(HttpServerRequest request) {
    String value = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (value == null) {
      return -1;
    }
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private IngestException tooLarge(long declared) {
    return IngestException.of(Rejection.BODY_TOO_LARGE, new Violation("body", "max_bytes",
        (declared > 0 ? "is " + declared + " bytes" : "is larger than allowed") + "; at most " + limits.maxBodyBytes()
            + " bytes are accepted (split the batch)"));
  }

  private static IngestException unsupported(String message) {
    return IngestException.of(Rejection.UNSUPPORTED_MEDIA_TYPE, new Violation("Content-Type", "media_type", message));
  }
}
