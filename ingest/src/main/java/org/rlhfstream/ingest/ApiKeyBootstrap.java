package org.rlhfstream.ingest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first-start API key. When the configuration lists no API key, ingest would accept nobody;
 * instead, the first start creates a random key for tenant {@value #DEFAULT_TENANT}, writes it
 * alone to {@code <data-dir>/api-key} (mode 600), and later starts read it back. Only its hash is
 * kept in memory. Configured keys always win: then the file is neither read nor written.
 *
 * <p>Called by the deploy module before ingest starts:
 *
 * <pre>{@code
 * ApiKeyBootstrap.Outcome key = ApiKeyBootstrap.ensure(config.ingest(), dataDir);
 * key.keyFile().ifPresent(f -> out.println("API key for tenant default: " + f));
 * IngestConfig ingest = key.config();
 * }</pre>
 */
public final class ApiKeyBootstrap {

  public static final String FILE_NAME = "api-key";
  public static final String DEFAULT_TENANT = "default";
  public static final String DEFAULT_APP = "default";
  /** Generated keys start with this, so that leaked keys are easy to search for. */
  public static final String KEY_PREFIX = "rlhf_";

  private static final Logger log = LoggerFactory.getLogger(ApiKeyBootstrap.class);
  private static final SecureRandom RANDOM = new SecureRandom();

  private ApiKeyBootstrap() {}

  /**
   * What {@link #ensure} decided.
   *
   * @param config the configuration to run with (unchanged when keys were configured)
   * @param keyFile the generated key's file, when the generated key is in use
   * @param created whether the file was created now (first start)
   */
  public record Outcome(IngestConfig config, java.util.Optional<Path> keyFile, boolean created) {}

  /** Uses the configured keys, or the generated key in {@code dataDir} (creating it if needed). */
  public static Outcome ensure(IngestConfig config, Path dataDir) {
    if (!config.auth().apiKeys().isEmpty()) {
      return new Outcome(config, java.util.Optional.empty(), false);
    }
    Path file = dataDir.resolve(FILE_NAME);
    boolean created = false;
    String key;
    if (Files.exists(file)) {
      key = read(file);
    } else {
      key = newKey();
      created = write(file, key);
      if (!created) {
        key = read(file); // another process created it first; use theirs
      }
    }
    if (created) {
      log.info("No API key configured: generated one for tenant '{}' in {} (mode 600). "
          + "Send it as 'Authorization: Bearer <key>'.", DEFAULT_TENANT, file.toAbsolutePath());
    } else {
      log.info("No API key configured: using the generated key for tenant '{}' from {}", DEFAULT_TENANT, file.toAbsolutePath());
    }
    IngestConfig.ApiKey entry = new IngestConfig.ApiKey(DEFAULT_APP, sha256Hex(key), Set.of(DEFAULT_TENANT));
    IngestConfig withKey = config.withAuth(config.auth().withApiKeys(List.of(entry)));
    return new Outcome(withKey, java.util.Optional.of(file), created);
  }

  /** A new random key: the prefix and 32 random bytes, base64url without padding. */
  public static String newKey() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return KEY_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** Lowercase hex SHA-256 of the key's UTF-8 bytes: what the configuration stores. */
  public static String sha256Hex(String key) {
    return HexFormat.of().formatHex(sha256(key.getBytes(StandardCharsets.UTF_8)));
  }

  static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static String read(Path file) {
    try {
      String key = Files.readString(file, StandardCharsets.UTF_8).trim();
      if (key.isEmpty()) {
        throw new IllegalStateException("the API key file " + file + " is empty; delete it to generate a new key");
      }
      warnIfReadableByOthers(file);
      return key;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the API key file " + file, e);
    }
  }

  /** Writes the key to a private temporary file and moves it in place; false if the file already existed. */
  private static boolean write(Path file, String key) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path tmp = file.resolveSibling(FILE_NAME + ".tmp-" + ProcessHandle.current().pid());
      Files.deleteIfExists(tmp);
      if (supportsPosix(file)) {
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } else {
        Files.createFile(tmp);
      }
      Files.writeString(tmp, key + "\n", StandardCharsets.UTF_8);
      try {
        // A hard link appears complete or not at all, and never replaces a key another process wrote.
        Files.createLink(file, tmp);
        return true;
      } catch (FileAlreadyExistsException e) {
        return false;
      } catch (UnsupportedOperationException | IOException noLinks) {
        try {
          Files.move(tmp, file);
          return true;
        } catch (FileAlreadyExistsException e) {
          return false;
        }
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the API key file " + file, e);
    }
  }

  private static boolean supportsPosix(Path file) {
    return file.toAbsolutePath().getParent().getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  private static void warnIfReadableByOthers(Path file) throws IOException {
    if (!supportsPosix(file)) {
      return;
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
    if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
      log.warn("The API key file {} is readable by other users ({}); run chmod 600 on it",
          file, PosixFilePermissions.toString(perms));
    }
  }
}
