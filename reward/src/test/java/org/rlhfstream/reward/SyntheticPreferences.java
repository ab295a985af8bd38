package org.rlhfstream.reward;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.rlhfstream.proto.v1.Comparison;

/**
 * A learnable preference for tests: a response that contains the marker word beats one that does
 * not. Everything else (prompt, filler words, positions) is random.
 */
final class SyntheticPreferences {

  static final String MARKER = "thanks";
  private static final String[] WORDS = {
    "apple", "river", "stone", "cloud", "green", "seven", "quick", "table", "music", "paper",
    "light", "ocean", "plant", "chair", "bread", "storm", "glass", "tiger", "sugar", "north"};

  private SyntheticPreferences() {}

  static List<Comparison> generate(String idPrefix, int count, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<Comparison> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String prompt = words(r, 3 + r.nextInt(3));
      String plain = words(r, 4 + r.nextInt(4));
      String[] parts = words(r, 3 + r.nextInt(4)).split(" ");
      int at = r.nextInt(parts.length + 1);
      StringBuilder good = new StringBuilder();
      for (int j = 0; j <= parts.length; j++) {
        if (j == at) {
          good.append(good.length() == 0 ? "" : " ").append(MARKER);
        }
        if (j < parts.length) {
          good.append(good.length() == 0 ? "" : " ").append(parts[j]);
        }
      }
      out.add(Comparison.newBuilder()
          .setEventId(idPrefix + "-" + i)
          .setTenant("default")
          .setPrompt(prompt)
          .setChosen(good.toString())
          .setRejected(plain)
          .build());
    }
    return out;
  }

  private static String words(SplittableRandom r, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        sb.append(' ');
      }
      sb.append(WORDS[r.nextInt(WORDS.length)]);
    }
    return sb.toString();
  }
}
