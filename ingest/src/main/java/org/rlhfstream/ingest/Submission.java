package org.rlhfstream.ingest;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.util.List;
import org.rlhfstream.proto.v1.Comparison;

/**
 * A validated request, ready to be written: its comparisons, their bytes as received (binary
 * protobuf requests; null for JSON), and the app that sent them.
 *
 * <p>What goes to Kafka is each comparison as received, with {@code source_app} (when empty) and
 * {@code created_at} (when absent) appended as extra fields: protobuf merges fields that appear
 * later, so readers see one message with both set, and ingest saves re-encoding every event.
 */
record Submission(List<Comparison> items, List<byte[]> wire, String sourceApp) {

  /** The Kafka values, in order. */
  byte[][] encode() {
    byte[] app = Comparison.newBuilder().setSourceApp(sourceApp).build().toByteArray();
    Instant now = Instant.now();
    byte[] time = Comparison.newBuilder()
        .setCreatedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
        .build().toByteArray();
    byte[][] values = new byte[items.size()][];
    for (int i = 0; i < values.length; i++) {
      Comparison c = items.get(i);
      byte[] body = wire != null ? wire.get(i) : c.toByteArray();
      byte[] appSuffix = c.getSourceApp().isEmpty() ? app : EMPTY;
      byte[] timeSuffix = c.hasCreatedAt() ? EMPTY : time;
      if (appSuffix.length == 0 && timeSuffix.length == 0) {
        values[i] = body;
        continue;
      }
      byte[] v = new byte[body.length + appSuffix.length + timeSuffix.length];
      System.arraycopy(body, 0, v, 0, body.length);
      System.arraycopy(appSuffix, 0, v, body.length, appSuffix.length);
      System.arraycopy(timeSuffix, 0, v, body.length + appSuffix.length, timeSuffix.length);
      values[i] = v;
    }
    return values;
  }

  private static final byte[] EMPTY = new byte[0];
}
