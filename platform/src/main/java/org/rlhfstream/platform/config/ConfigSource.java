package org.rlhfstream.platform.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Builds the configuration tree from its three layers, later ones winning:
 *
 * <ol>
 *   <li>the YAML file (one section per service),
 *   <li>environment variables {@code RLHF_SECTION__FIELD=value}: {@code __} separates levels,
 *       {@code _} stands for {@code -}, e.g. {@code RLHF_INGEST__GRPC__PORT=9191} sets
 *       {@code ingest.grpc.port} and {@code RLHF_KAFKA__BOOTSTRAP_SERVERS} sets
 *       {@code kafka.bootstrap-servers}; {@code RLHF_DATA_DIR} sets the one top-level field. Other
 *       {@code RLHF_…} names without {@code __} ({@code RLHF_DEBUG}, {@code RLHF_NATIVE}, …) are
 *       the tools' own settings, not configuration,
 *   <li>command-line {@code --set path.to.field=value} flags and the commands' own flags.
 * </ol>
 */
public final class ConfigSource {

  /** The one top-level field that is not a section; every other override names a section with {@code __}. */
  private static final String DATA_DIR_ENV = "RLHF_DATA_DIR";

  private ConfigSource() {}

  /** Parses a YAML file into a tree; a syntax error names the file, line and column. */
  public static Map<String, Object> readYaml(Path file) {
    String where = file.toString();
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      LoaderOptions options = new LoaderOptions();
      options.setAllowDuplicateKeys(false);
      options.setMaxAliasesForCollections(20);
      Object doc = new Yaml(new SafeConstructor(options)).load(reader);
      if (doc == null) {
        return new LinkedHashMap<>();
      }
      if (!(doc instanceof Map<?, ?> map)) {
        throw new ConfigException("", where + ": the top level must be a map of sections, not " + doc.getClass().getSimpleName());
      }
      return deepCopy(map);
    } catch (NoSuchFileException e) {
      throw new ConfigException("", "configuration file " + where + " does not exist");
    } catch (MalformedInputException e) {
      throw new ConfigException("", where + ": not valid UTF-8");
    } catch (MarkedYAMLException e) {
      var mark = e.getProblemMark();
      String at = mark == null ? "" : " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
      throw new ConfigException("", where + ": invalid YAML" + at + ": " + e.getProblem());
    } catch (YAMLException e) {
      throw new ConfigException("", where + ": invalid YAML: " + e.getMessage());
    } catch (IOException e) {
      throw new ConfigException("", "cannot read configuration file " + where + ": " + e.getMessage());
    }
  }

  /** Applies {@code RLHF_…} environment variables to the tree. */
  public static void applyEnvironment(Map<String, Object> tree, Map<String, String> env) {
    env.entrySet().stream()
        .filter(e -> isConfiguration(e.getKey()))
        .sorted(Map.Entry.comparingByKey())
        .forEach(e -> put(tree, envToPath(e.getKey()), e.getValue(), "environment variable " + e.getKey()));
  }

  /** Applies {@code path=value} overrides (from {@code --set}). */
  public static void applyOverrides(Map<String, Object> tree, List<String> assignments) {
    for (String a : assignments) {
      int eq = a.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException("", "--set " + a + ": expected path.to.field=value");
      }
      put(tree, a.substring(0, eq).trim(), a.substring(eq + 1), "--set " + a);
    }
  }

  /** Sets one dotted path, creating sections on the way. */
  @SuppressWarnings("unchecked")
  public static void put(Map<String, Object> tree, String dottedPath, Object value, String origin) {
    String[] parts = dottedPath.split("\\.");
    Map<String, Object> node = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      Object next = node.get(parts[i]);
      if (next == null) {
        next = new LinkedHashMap<String, Object>();
        node.put(parts[i], next);
      } else if (!(next instanceof Map<?, ?>)) {
        throw new ConfigException(String.join(".", List.of(parts).subList(0, i + 1)),
            origin + " treats this field as a section, but it holds a value");
      }
      node = (Map<String, Object>) next;
    }
    node.put(parts[parts.length - 1], value);
  }

  /** Whether an environment variable is a configuration override (rather than a tool setting). */
  static boolean isConfiguration(String name) {
    return name.startsWith("RLHF_") && (name.contains("__") || name.equals(DATA_DIR_ENV));
  }

  static String envToPath(String name) {
    String rest = name.substring("RLHF_".length());
    StringBuilder path = new StringBuilder();
    for (String level : rest.split("__")) {
      if (path.length() > 0) {
        path.append('.');
      }
      path.append(level.toLowerCase(Locale.ROOT).replace('_', '-'));
    }
    return path.toString();
  }

  private static Map<String, Object> deepCopy(Map<?, ?> map) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      Object v = e.getValue();
      out.put(String.valueOf(e.getKey()), v instanceof Map<?, ?> m ? deepCopy(m) : v);
    }
    return out;
  }
}
