package org.rlhfstream.ingest;

import io.vertx.core.json.JsonObject;

/**
 * One broken rule in a request.
 *
 * @param field where: {@code comparisons[3].chosen}, {@code event_id} (a single comparison),
 *     {@code body}, {@code Content-Type}, {@code Authorization}
 * @param rule which rule, a stable word clients may match on: {@code required}, {@code max_bytes},
 *     {@code pattern}, {@code not_equal}, {@code range}, {@code utf8}, {@code min_items},
 *     {@code max_items}, {@code max_entries}, {@code json}, {@code protobuf}, {@code media_type},
 *     {@code tenant}
 * @param message what is wrong, for people
 */
public record Violation(String field, String rule, String message) {

  public JsonObject toJson() {
    return new JsonObject().put("field", field).put("rule", rule).put("message", message);
  }

  @Override
  public String toString() {
    return field + ": " + message + " [" + rule + "]";
  }
}
