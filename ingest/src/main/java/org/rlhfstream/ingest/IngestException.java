package org.rlhfstream.ingest;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.stream.Collectors;

/** A refused request: why, and the broken rules. Carries no stack trace (it is not a bug). */
public final class IngestException extends RuntimeException {

  private final Rejection rejection;
  private final List<Violation> violations;

  public IngestException(Rejection rejection, String message, List<Violation> violations) {
    super(message, null, false, false);
    this.rejection = rejection;
    this.violations = List.copyOf(violations);
  }

  public IngestException(Rejection rejection, String message) {
    this(rejection, message, List.of());
  }

  public static IngestException of(Rejection rejection, Violation violation) {
    return new IngestException(rejection, violation.toString(), List.of(violation));
  }

  public Rejection rejection() {
    return rejection;
  }

  public List<Violation> violations() {
    return violations;
  }

  /** The HTTP error body: {@code {"error": …, "message": …, "violations": [{field, rule, message}]}}. */
  public JsonObject toJson() {
    JsonArray list = new JsonArray();
    violations.forEach(v -> list.add(v.toJson()));
    return new JsonObject().put("error", rejection.code).put("message", getMessage()).put("violations", list);
  }

  /** One line for a gRPC status message. */
  public String statusMessage() {
    if (violations.isEmpty()) {
      return getMessage();
    }
    return getMessage() + ": " + violations.stream().map(Violation::toString).collect(Collectors.joining("; "));
  }
}
