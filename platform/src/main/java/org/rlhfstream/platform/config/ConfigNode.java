package org.rlhfstream.platform.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rlhfstream.platform.config.ConfigException.ConfigProblem;

/**
 * One section of the configuration tree, read through typed getters that know their field's
 * path. A bad value does not throw at once: it is recorded (path + reason) and the default is
 * returned, so that one start-up reports every problem. {@link #validate()} then throws a
 * {@link ConfigException} listing them all, including fields nobody read (unknown fields).
 *
 * <p>Values may be YAML scalars or strings (environment variables and flags are strings), so
 * every getter also parses its type from a string.
 */
public final class ConfigNode {

  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(b|kb|kib|mb|mib|gb|gib)?", Pattern.CASE_INSENSITIVE);

  private final String path;
  private final Map<String, Object> values;
  private final List<ConfigProblem> problems;
  private final Set<String> known = new LinkedHashSet<>();
  private final Map<String, ConfigNode> children = new LinkedHashMap<>();

  private ConfigNode(String path, Map<String, Object> values, List<ConfigProblem> problems) {
    this.path = path;
    this.values = values;
    this.problems = problems;
  }

  /** The root of a configuration tree (maps of maps of scalars and lists). */
  public static ConfigNode root(Map<String, Object> tree) {
    return new ConfigNode("", tree == null ? Map.of() : tree, new ArrayList<>());
  }

  public String path() {
    return path;
  }

  /** The path of a field in this section, for messages. */
  public String pathOf(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  public boolean has(String key) {
    return values.containsKey(key) && values.get(key) != null;
  }

  /** A nested section; a missing one reads as empty, so every field gets its default. */
  @SuppressWarnings("unchecked")
  public ConfigNode section(String key) {
    known.add(key);
    ConfigNode existing = children.get(key);
    if (existing != null) {
      return existing;
    }
    Object v = values.get(key);
    Map<String, Object> map = Map.of();
    if (v instanceof Map<?, ?> m) {
      map = (Map<String, Object>) m;
    } else if (v != null && !(v instanceof String s && s.isBlank())) {
      problem(key, "must be a section (a map of fields), got " + describe(v));
    }
    ConfigNode child = new ConfigNode(pathOf(key), map, problems);
    children.put(key, child);
    return child;
  }

  public String string(String key, String defaultValue) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    if (v instanceof Map<?, ?> || v instanceof List<?>) {
      problem(key, "must be a single value, got " + describe(v));
      return defaultValue;
    }
    return String.valueOf(v);
  }

  /** A string that must be one of {@code allowed} (case-insensitive; returned lower-case). */
  public String choice(String key, String defaultValue, String... allowed) {
    String v = string(key, defaultValue);
    for (String a : allowed) {
      if (a.equalsIgnoreCase(v)) {
        return a;
      }
    }
    problem(key, "must be one of " + String.join(", ", allowed) + " (got \"" + v + "\")");
    return defaultValue;
  }

  public int integer(String key, int defaultValue, int min, int max) {
    return (int) longValue(key, defaultValue, min, max);
  }

  public long longValue(String key, long defaultValue, long min, long max) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    long parsed;
    if (v instanceof Integer || v instanceof Long || v instanceof Short) {
      parsed = ((Number) v).longValue();
    } else {
      try {
        parsed = Long.parseLong(String.valueOf(v).trim().replace("_", ""));
      } catch (NumberFormatException e) {
        problem(key, "must be a whole number, got " + describe(v));
        return defaultValue;
      }
    }
    if (parsed < min || parsed > max) {
      problem(key, "must be between " + min + " and " + max + " (got " + parsed + ")");
      return defaultValue;
    }
    return parsed;
  }

  public double number(String key, double defaultValue, double min, double max) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    double parsed;
    if (v instanceof Number n) {
      parsed = n.doubleValue();
    } else {
      try {
        parsed = Double.parseDouble(String.valueOf(v).trim());
      } catch (NumberFormatException e) {
        problem(key, "must be a number, got " + describe(v));
        return defaultValue;
      }
    }
    if (!(parsed >= min && parsed <= max)) {
      problem(key, "must be between " + min + " and " + max + " (got " + parsed + ")");
      return defaultValue;
    }
    return parsed;
  }

  public boolean bool(String key, boolean defaultValue) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    String s = String.valueOf(v).trim().toLowerCase(Locale.ROOT);
    switch (s) {
      case "true", "yes", "on", "1":
        return true;
      case "false", "no", "off", "0":
        return false;
      default:
        problem(key, "must be true or false, got " + describe(v));
        return defaultValue;
    }
  }

  /** A duration such as {@code 250ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 7d}. */
  public Duration duration(String key, Duration defaultValue) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    Matcher m = DURATION.matcher(String.valueOf(v).trim());
    if (!m.matches()) {
      problem(key, "must be a duration like 250ms, 30s, 5m, 2h or 7d, got " + describe(v));
      return defaultValue;
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /** A size in bytes such as {@code 1048576}, {@code 512kb}, {@code 1mb} (powers of 1024). */
  public long bytes(String key, long defaultValue, long min, long max) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    Matcher m = SIZE.matcher(String.valueOf(v).trim());
    if (!m.matches()) {
      problem(key, "must be a size like 65536, 512kb or 4mb, got " + describe(v));
      return defaultValue;
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long scaled = switch (unit) {
      case "kb", "kib" -> n * 1024;
      case "mb", "mib" -> n * 1024 * 1024;
      case "gb", "gib" -> n * 1024 * 1024 * 1024;
      default -> n;
    };
    if (scaled < min || scaled > max) {
      problem(key, "must be between " + min + " and " + max + " bytes (got " + scaled + ")");
      return defaultValue;
    }
    return scaled;
  }

  /** A list of strings; a comma-separated string is accepted too (handy in env vars). */
  public List<String> strings(String key, List<String> defaultValue) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return defaultValue;
    }
    List<String> out = new ArrayList<>();
    if (v instanceof List<?> list) {
      for (Object o : list) {
        if (o instanceof Map<?, ?> || o instanceof List<?>) {
          problem(key, "must be a list of plain values, got " + describe(o) + " in it");
          return defaultValue;
        }
        out.add(String.valueOf(o));
      }
    } else if (v instanceof Map<?, ?>) {
      problem(key, "must be a list, got " + describe(v));
      return defaultValue;
    } else {
      for (String part : String.valueOf(v).split(",")) {
        if (!part.isBlank()) {
          out.add(part.trim());
        }
      }
    }
    return List.copyOf(out);
  }

  /** A map of string to string, e.g. extra Kafka client properties. */
  public Map<String, String> stringMap(String key) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return Map.of();
    }
    if (!(v instanceof Map<?, ?> m)) {
      problem(key, "must be a map of names to values, got " + describe(v));
      return Map.of();
    }
    Map<String, String> out = new LinkedHashMap<>();
    flatten("", m, out);
    return Map.copyOf(out);
  }

  /** Section entries whose keys are user-chosen names (e.g. API keys by app), as sections. */
  @SuppressWarnings("unchecked")
  public Map<String, ConfigNode> namedSections(String key) {
    ConfigNode parent = section(key);
    Map<String, ConfigNode> out = new LinkedHashMap<>();
    for (String name : parent.values.keySet()) {
      out.put(name, parent.section(name));
    }
    return out;
  }

  /** Records a problem found by a cross-field check of this section. */
  public void problem(String key, String reason) {
    problems.add(new ConfigProblem(pathOf(key), reason));
  }

  /**
   * Reports fields that no getter asked for (typos, fields of a newer version) and throws if any
   * problem was found anywhere in the tree. Call once on the root, after reading everything.
   */
  public void validate() {
    reportUnknown();
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
  }

  private void reportUnknown() {
    for (String key : values.keySet()) {
      if (!known.contains(key)) {
        String hint = closest(key, known);
        problems.add(new ConfigProblem(pathOf(key),
            "unknown field" + (hint == null ? "" : " (did you mean \"" + hint + "\"?)")));
      }
    }
    children.values().forEach(ConfigNode::reportUnknown);
  }

  private static void flatten(String prefix, Map<?, ?> m, Map<String, String> out) {
    for (Map.Entry<?, ?> e : m.entrySet()) {
      String k = prefix + e.getKey();
      if (e.getValue() instanceof Map<?, ?> inner) {
        flatten(k + ".", inner, out);
      } else if (e.getValue() != null) {
        out.put(k, String.valueOf(e.getValue()));
      }
    }
  }

  private static String describe(Object v) {
    if (v instanceof Map<?, ?>) {
      return "a section";
    }
    if (v instanceof List<?>) {
      return "a list";
    }
    return "\"" + v + "\"";
  }

  private static String closest(String key, Set<String> candidates) {
    return candidates.stream()
        .filter(c -> editDistance(key, c) <= Math.max(2, key.length() / 4))
        .min(Comparator.comparingInt(c -> editDistance(key, c)))
        .orElse(null);
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
