package org.rlhfstream.ingest;

import io.vertx.grpc.common.GrpcStatus;

/**
 * Why a request was refused, with its HTTP status, its gRPC status, and the word used in the
 * error body ({@code "error"}) and in the {@code reason} label of
 * {@code rlhf_ingest_requests_rejected_total}.
 */
public enum Rejection {
  /** The body is not valid JSON / protobuf, or not valid UTF-8. */
  MALFORMED(400, GrpcStatus.INVALID_ARGUMENT, "malformed"),
  /** Parsed, but a field breaks a rule. */
  INVALID(400, GrpcStatus.INVALID_ARGUMENT, "invalid"),
  /** No credentials, or credentials that match nothing. */
  UNAUTHENTICATED(401, GrpcStatus.UNAUTHENTICATED, "unauthenticated"),
  /** Valid credentials, but a comparison names a tenant they may not write. */
  FORBIDDEN(403, GrpcStatus.PERMISSION_DENIED, "forbidden"),
  /** The body is larger than {@code ingest.limits.max-body-bytes}. */
  BODY_TOO_LARGE(413, GrpcStatus.RESOURCE_EXHAUSTED, "body_too_large"),
  /** A Content-Type other than JSON or protobuf. */
  UNSUPPORTED_MEDIA_TYPE(415, GrpcStatus.INVALID_ARGUMENT, "unsupported_media_type"),
  /** Too much work in flight already; retry after Retry-After. */
  OVERLOADED(503, GrpcStatus.UNAVAILABLE, "overloaded"),
  /** Kafka did not acknowledge in time; the events may or may not be stored: resend them. */
  KAFKA_UNAVAILABLE(503, GrpcStatus.UNAVAILABLE, "kafka_unavailable"),
  /** The service is stopping; retry (elsewhere) after Retry-After. */
  SHUTTING_DOWN(503, GrpcStatus.UNAVAILABLE, "shutting_down");

  public final int httpStatus;
  public final GrpcStatus grpcStatus;
  public final String code;

  Rejection(int httpStatus, GrpcStatus grpcStatus, String code) {
    this.httpStatus = httpStatus;
    this.grpcStatus = grpcStatus;
    this.code = code;
  }

  /** Whether the client should simply resend the same request later. */
  public boolean retryable() {
    return httpStatus == 503;
  }
}
