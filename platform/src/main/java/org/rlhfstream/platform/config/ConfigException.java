package org.rlhfstream.platform.config;

import java.util.List;

/** Configuration that cannot be used; carries every problem found, each with its field path. */
public final class ConfigException extends RuntimeException {
  private final List<ConfigProblem> problems;

  public ConfigException(List<ConfigProblem> problems) {
    super(format(problems));
    this.problems = List.copyOf(problems);
  }

  public ConfigException(String path, String reason) {
    this(List.of(new ConfigProblem(path, reason)));
  }

  public List<ConfigProblem> problems() {
    return problems;
  }

  private static String format(List<ConfigProblem> problems) {
    StringBuilder sb = new StringBuilder("invalid configuration (" + problems.size()
        + (problems.size() == 1 ? " problem):" : " problems):"));
    for (ConfigProblem p : problems) {
      sb.append("\n  ").append(p);
    }
    return sb.toString();
  }

  /** One bad field: its dotted path (e.g. {@code ingest.http.port}) and what is wrong with it. */
  public record ConfigProblem(String path, String reason) {
    @Override
    public String toString() {
      return (path.isEmpty() ? "<root>" : path) + ": " + reason;
    }
  }
}
