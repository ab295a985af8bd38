package org.rlhfstream.model.nativeops;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Properties;

/**
 * Points DJL at the native bridge that {@code native/build-bridge.sh} installed, before the
 * PyTorch engine loads. DJL reads its library location from environment variables or system
 * properties ({@code PYTORCH_LIBRARY_PATH}, {@code PYTORCH_VERSION}, {@code PYTORCH_FLAVOR},
 * {@code ENGINE_CACHE_DIR}); the build writes them to {@code bridge.properties} in the bridge home
 * ({@code $RLHF_BRIDGE_HOME}, else {@code ~/.rlhf-stream}), and {@link #configure} copies them into
 * system properties. Environment variables that are already set win (DJL reads them first).
 */
public final class NativeBridge {
  /** The DJL settings the manifest carries. */
  static final List<String> KEYS = List.of("PYTORCH_LIBRARY_PATH", "PYTORCH_VERSION", "PYTORCH_FLAVOR",
      "ENGINE_CACHE_DIR");

  /** Whether to use the bridge: when installed, always (failing when it is not), or never. */
  public enum Mode {
    AUTO,
    REQUIRED,
    OFF;

    public static Mode parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("native bridge mode must be auto, required or off, got " + s);
      }
    }
  }

  /**
   * What {@link #configure} did.
   *
   * @param source "environment", the manifest's path, or "none"
   * @param library the bridge library DJL will load, or null for DJL's own
   */
  public record Status(String source, Path library, String message) {
    public boolean bridged() {
      return library != null;
    }
  }

  private NativeBridge() {}

  /** {@code $RLHF_BRIDGE_HOME/bridge.properties}, else {@code ~/.rlhf-stream/bridge.properties}. */
  public static Path manifest() {
    String home = System.getenv("RLHF_BRIDGE_HOME");
    if (home == null || home.isBlank()) {
      home = System.getProperty("rlhf.bridge.home");
    }
    Path dir = home == null || home.isBlank() ? Paths.get(System.getProperty("user.home"), ".rlhf-stream") : Paths.get(home);
    return dir.resolve("bridge.properties");
  }

  /**
   * Configures DJL to load the bridge, if {@code mode} allows and one is installed. Call before
   * anything touches the PyTorch engine; later calls cannot change what is loaded.
   *
   * @throws IllegalStateException when the mode is REQUIRED and no bridge is installed
   */
  public static Status configure(Mode mode) {
    if (mode == Mode.OFF) {
      return new Status("none", null, "native bridge off: DJL's own PyTorch library");
    }
    String envPath = System.getenv("PYTORCH_LIBRARY_PATH");
    if (envPath != null && !envPath.isBlank()) {
      Path lib = expectedLibrary(System.getenv("ENGINE_CACHE_DIR"), System.getenv("PYTORCH_VERSION"),
          System.getenv("PYTORCH_FLAVOR"));
      return new Status("environment", lib, "DJL settings from the environment (PYTORCH_LIBRARY_PATH=" + envPath + ")");
    }
    Path manifest = manifest();
    if (!Files.isRegularFile(manifest)) {
      if (mode == Mode.REQUIRED) {
        throw new IllegalStateException("no native bridge installed (" + manifest + " is missing): build it with "
            + "native/build-bridge.sh on a host with PyTorch");
      }
      return new Status("none", null, "no native bridge installed (" + manifest + "): DJL's own PyTorch library");
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(manifest, StandardCharsets.UTF_8)) {
      p.load(r);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + manifest + ": " + e.getMessage(), e);
    }
    Path library = Paths.get(p.getProperty("library", ""));
    if (!Files.isRegularFile(library)) {
      String msg = "the native bridge in " + manifest + " names " + library + ", which is missing: rebuild it with "
          + "native/build-bridge.sh";
      if (mode == Mode.REQUIRED) {
        throw new IllegalStateException(msg);
      }
      return new Status("none", null, msg);
    }
    for (String key : KEYS) {
      String value = p.getProperty(key);
      if (value != null && System.getenv(key) == null) {
        System.setProperty(key, value);
      }
    }
    return new Status(manifest.toString(), library, "native bridge for PyTorch " + p.getProperty("torch.version", "?"));
  }

  private static Path expectedLibrary(String cacheDir, String version, String flavor) {
    if (cacheDir == null || version == null || flavor == null) {
      return null;
    }
    String djl = ai.djl.util.Platform.detectPlatform("pytorch").getApiVersion();
    Path lib = Paths.get(cacheDir, "pytorch", version + "-" + flavor + "-linux-x86_64", djl + "-libdjl_torch.so");
    return Files.isRegularFile(lib) ? lib : null;
  }
}
