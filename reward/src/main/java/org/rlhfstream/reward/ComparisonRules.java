package org.rlhfstream.reward;

import org.rlhfstream.proto.v1.Comparison;

/** What a comparison on the topic must satisfy before it is trained on. */
final class ComparisonRules {

  private ComparisonRules() {}

  /** The first rule the comparison breaks, or null when it is usable. */
  static String problem(Comparison c) {
    if (c.getEventId().isBlank()) {
      return "event_id is empty";
    }
    if (c.getChosen().isEmpty()) {
      return "chosen is empty";
    }
    if (c.getRejected().isEmpty()) {
      return "rejected is empty";
    }
    if (!c.getTie() && c.getChosen().equals(c.getRejected())) {
      return "chosen equals rejected";
    }
    if (c.hasStrength() && !(c.getStrength() > 0f && c.getStrength() <= 1f)) {
      return "strength must be in (0, 1], got " + c.getStrength();
    }
    return null;
  }
}
