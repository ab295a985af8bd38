package org.rlhfstream.deploy;

/**
 * What {@code --output} asks for: text for people, or JSON for programs (one JSON object; for
 * benchmarks, the last line). Picocli refuses any other value with the list of valid ones.
 */
public enum OutputFormat {
  text,
  json;

  boolean isJson() {
    return this == json;
  }
}
