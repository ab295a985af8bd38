package org.rlhfstream.ingest;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rlhfstream.proto.v1.Comparison;

/**
 * The rules a comparison must follow before it may be written. A request is all-or-nothing: {@link #prepare} checks every comparison, reports
 * every broken rule (up to {@value #MAX_REPORTED}), and only returns when all are valid.
 */
final class ComparisonValidator {

  /** More violations than this are summarised: a client sending 1000 bad items needs a few examples. */
  static final int MAX_REPORTED = 50;

  /** Printable ASCII without spaces: UUIDs, ULIDs, hashes, "app:123". */
  private static final CharRule EVENT_ID = ch -> ch >= 0x21 && ch <= 0x7E;
  private static final CharRule TENANT = ch -> (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
      || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';

  /** Which characters an identifier may hold (a loop over chars: cheaper than a regex per field). */
  @FunctionalInterface
  private interface CharRule {
    boolean allows(char ch);

    default boolean matches(String s) {
      for (int i = 0; i < s.length(); i++) {
        if (!allows(s.charAt(i))) {
          return false;
        }
      }
      return true;
    }
  }

  private final IngestConfig.Limits limits;

  ComparisonValidator(IngestConfig.Limits limits) {
    this.limits = limits;
  }

  /**
   * Checks a whole request for {@code principal} and returns what to write.
   *
   * @throws IngestException INVALID (400) with every violation, or FORBIDDEN (403) for tenants
   *     the principal may not write
   */
  Submission prepare(Principal principal, ComparisonDecoder.Decoded decoded, int maxItems) {
    List<Comparison> items = decoded.comparisons();
    boolean batch = decoded.batch();
    List<Violation> violations = new ArrayList<>();
    if (items.isEmpty()) {
      violations.add(new Violation("comparisons", "min_items", "must hold at least one comparison"));
    } else if (items.size() > maxItems) {
      violations.add(new Violation("comparisons", "max_items",
          "holds " + items.size() + " comparisons; at most " + maxItems + " are allowed per request"));
    } else {
      for (int i = 0; i < items.size() && violations.size() < MAX_REPORTED; i++) {
        check(items.get(i), batch ? "comparisons[" + i + "]." : "", violations, decoded.wire() != null);
      }
    }
    throwIfAny(violations);
    return authorize(principal, items, decoded.wire(), batch);
  }

  /**
   * The last step of {@link #prepare}, for comparisons already {@link #check checked} one by one
   * (a gRPC stream): the tenants (403).
   */
  Submission authorize(Principal principal, List<Comparison> items, List<byte[]> wire, boolean batch) {
    if (items.isEmpty()) {
      throwIfAny(List.of(new Violation("comparisons", "min_items", "must hold at least one comparison")));
    }
    checkTenants(principal, items, batch);
    return new Submission(items, wire, principal.app());
  }

  /**
   * Checks one comparison, adding what is wrong to {@code out}; {@code prefix} ends with a dot or
   * is empty. {@code wellFormedUtf8}: its strings were decoded from binary protobuf, whose parser
   * already refused bytes that are not UTF-8, so only their lengths need checking.
   */
  void check(Comparison c, String prefix, List<Violation> out, boolean wellFormedUtf8) {
    Strings strings = new Strings(out, wellFormedUtf8);
    identifier(c.getEventId(), prefix + "event_id", true, EVENT_ID, "must be printable ASCII without spaces", strings);
    identifier(c.getTenant(), prefix + "tenant", true, TENANT, "may hold only letters, digits, '.', '_' and '-'", strings);
    identifier(c.getProject(), prefix + "project", false, null, null, strings);
    identifier(c.getLabelerId(), prefix + "labeler_id", false, null, null, strings);
    identifier(c.getSourceApp(), prefix + "source_app", false, null, null, strings);
    boolean promptOk = text(c.getPrompt(), prefix + "prompt", strings);
    boolean chosenOk = text(c.getChosen(), prefix + "chosen", strings);
    boolean rejectedOk = text(c.getRejected(), prefix + "rejected", strings);
    if (promptOk && chosenOk && rejectedOk && c.getChosen().equals(c.getRejected())) {
      out.add(new Violation(prefix + "chosen", "not_equal", "must differ from rejected"));
    }
    if (c.hasStrength()) {
      float s = c.getStrength();
      if (!(s > 0f && s <= 1f)) {
        out.add(new Violation(prefix + "strength", "range", "must be in (0, 1], got " + s));
      }
    }
    if (c.hasPolicy()) {
      identifier(c.getPolicy().getAdapterName(), prefix + "policy.adapter_name", true, null, null, strings);
      if (c.getPolicy().getVersion() < 0) {
        out.add(new Violation(prefix + "policy.version", "range", "must not be negative"));
      }
    }
    if (c.getMetadataCount() > 0) {
      metadata(c.getMetadataMap(), prefix + "metadata", strings);
    }
    if (c.hasCreatedAt()) {
      Timestamp t = c.getCreatedAt();
      if (t.getNanos() < 0 || t.getNanos() > 999_999_999
          || t.getSeconds() < Instant.parse("0001-01-01T00:00:00Z").getEpochSecond()
          || t.getSeconds() > Instant.parse("9999-12-31T23:59:59Z").getEpochSecond()) {
        out.add(new Violation(prefix + "created_at", "range", "must be a timestamp between years 0001 and 9999"));
      }
    }
  }

  private void identifier(String value, String field, boolean required, CharRule pattern, String patternRule,
      Strings strings) {
    List<Violation> out = strings.out;
    int bytes = strings.length(value, field, limits.maxIdBytes());
    if (bytes < 0) {
      return;
    }
    if (value.isEmpty()) {
      if (required) {
        out.add(new Violation(field, "required", "is required"));
      }
      return;
    }
    if (bytes > limits.maxIdBytes()) {
      out.add(new Violation(field, "max_bytes", "is " + bytes + " bytes; at most " + limits.maxIdBytes() + " are allowed"));
    } else if (pattern != null && !pattern.matches(value)) {
      out.add(new Violation(field, "pattern", patternRule));
    }
  }

  /** A required text; true when it is valid. */
  private boolean text(String value, String field, Strings strings) {
    List<Violation> out = strings.out;
    int bytes = strings.length(value, field, limits.maxTextBytes());
    if (bytes < 0) {
      return false;
    }
    if (value.isEmpty()) {
      out.add(new Violation(field, "required", "is required and must not be empty"));
      return false;
    }
    if (value.isBlank()) {
      out.add(new Violation(field, "required", "must not be only whitespace"));
      return false;
    }
    if (bytes > limits.maxTextBytes()) {
      out.add(new Violation(field, "max_bytes", "is " + bytes + " bytes; at most " + limits.maxTextBytes() + " are allowed"));
      return false;
    }
    return true;
  }

  private void metadata(Map<String, String> map, String field, Strings strings) {
    List<Violation> out = strings.out;
    if (map.size() > limits.maxMetadataEntries()) {
      out.add(new Violation(field, "max_entries",
          "has " + map.size() + " entries; at most " + limits.maxMetadataEntries() + " are allowed"));
      return;
    }
    for (Map.Entry<String, String> e : map.entrySet()) {
      String entryField = field + "[" + e.getKey() + "]";
      int keyBytes = strings.length(e.getKey(), field + " (a key)", limits.maxIdBytes());
      if (keyBytes == 0) {
        out.add(new Violation(field, "required", "keys must not be empty"));
      } else if (keyBytes > limits.maxIdBytes()) {
        out.add(new Violation(entryField, "max_bytes", "the key is " + keyBytes + " bytes; at most " + limits.maxIdBytes()));
      }
      int valueBytes = strings.length(e.getValue(), entryField, limits.maxTextBytes());
      if (valueBytes > limits.maxTextBytes()) {
        out.add(new Violation(entryField, "max_bytes", "is " + valueBytes + " bytes; at most " + limits.maxTextBytes()));
      }
    }
  }

  /** Measures strings for one comparison's check, reporting those that have no UTF-8 form. */
  private static final class Strings {
    final List<Violation> out;
    final boolean wellFormed;

    Strings(List<Violation> out, boolean wellFormed) {
      this.out = out;
      this.wellFormed = wellFormed;
    }

    /**
     * The UTF-8 length of {@code value}, or -1 after reporting text that has no UTF-8 form: an
     * unpaired surrogate (from a JSON escape such as "\ud800") or bytes that were not UTF-8 in
     * the body. Well-formed text shorter than a third of {@code limit} characters cannot exceed
     * it, so its exact length is not needed: its char count is returned.
     */
    int length(String value, String field, int limit) {
      if (wellFormed) {
        return 3L * value.length() <= limit ? value.length() : Utf8Text.encodedLength(value);
      }
      if (value.indexOf(ComparisonDecoder.INVALID_UTF8_MARK) >= 0) {
        out.add(new Violation(field, "utf8", "is not valid UTF-8"));
        return -1;
      }
      int length = Utf8Text.encodedLength(value);
      if (length < 0) {
        out.add(new Violation(field, "utf8", "is not valid UTF-8 (it holds an unpaired surrogate)"));
      }
      return length;
    }
  }

  private static void checkTenants(Principal principal, List<Comparison> items, boolean batch) {
    List<Violation> forbidden = new ArrayList<>();
    for (int i = 0; i < items.size() && forbidden.size() < MAX_REPORTED; i++) {
      String tenant = items.get(i).getTenant();
      if (!principal.mayWrite(tenant)) {
        forbidden.add(new Violation((batch ? "comparisons[" + i + "]." : "") + "tenant", "tenant",
            "'" + principal.app() + "' may not write tenant '" + tenant + "'"));
      }
    }
    if (!forbidden.isEmpty()) {
      throw new IngestException(Rejection.FORBIDDEN,
          forbidden.size() == 1 ? "a comparison names a tenant these credentials may not write"
              : forbidden.size() + " comparisons name tenants these credentials may not write",
          forbidden);
    }
  }

  static void throwIfAny(List<Violation> violations) {
    if (!violations.isEmpty()) {
      throw new IngestException(Rejection.INVALID,
          violations.size() == 1 ? "1 problem in the request"
              : (violations.size() >= MAX_REPORTED ? "at least " : "") + violations.size() + " problems in the request",
          violations);
    }
  }
}
