package org.rlhfstream.platform.artifacts;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.rlhfstream.proto.v1.Artifact;

/**
 * Versioned, immutable artifacts on the local file system: {@code <root>/<kind>/<name>/<version>/}.
 *
 * <p>An artifact is a folder of files (a Hugging Face checkpoint, a PEFT adapter). Publishing
 * copies the files into a temporary folder, writes {@value #MANIFEST} (one {@code sha256  path}
 * line per file, sorted), syncs everything to disk and renames the folder into place in one
 * atomic step: a reader sees a complete artifact or none. The artifact's SHA-256 is the hash of
 * its manifest, so it covers every byte of every file. A version, once written, never changes.
 */
public final class ArtifactStore {

  public static final String MANIFEST = "MANIFEST.sha256";
  private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private final Path root;

  public ArtifactStore(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  /** Where a version lives (whether or not it exists). */
  public Path location(String kind, String name, long version) {
    checkName("kind", kind);
    checkName("name", name);
    if (version < 1) {
      throw new IllegalArgumentException("version must be ≥ 1, got " + version);
    }
    return root.resolve(kind).resolve(name).resolve(Long.toString(version));
  }

  /**
   * Publishes the files of {@code source} as {@code kind/name/version}.
   *
   * @param format the artifact's layout, recorded in the returned reference
   * @throws IllegalStateException if that version already exists (artifacts are immutable)
   */
  public Artifact publish(String kind, String name, long version, Path source, String format) {
    Path target = location(kind, name, version);
    if (Files.exists(target)) {
      throw new IllegalStateException("artifact " + kind + "/" + name + "/" + version + " already exists; versions are immutable");
    }
    Path staging = null;
    try {
      Files.createDirectories(target.getParent());
      staging = Files.createTempDirectory(target.getParent(), "." + version + ".staging-");
      List<String> manifest = new ArrayList<>();
      long size = 0;
      for (Path file : listFiles(source)) {
        String rel = source.relativize(file).toString().replace('\\', '/');
        if (rel.equals(MANIFEST)) {
          continue;
        }
        Path dest = staging.resolve(rel);
        Files.createDirectories(dest.getParent());
        Files.copy(file, dest, StandardCopyOption.COPY_ATTRIBUTES);
        fsync(dest);
        manifest.add(sha256(dest) + "  " + rel);
        size += Files.size(dest);
      }
      if (manifest.isEmpty()) {
        throw new IllegalArgumentException("nothing to publish: " + source + " holds no files");
      }
      byte[] manifestBytes = (String.join("\n", manifest) + "\n").getBytes(StandardCharsets.UTF_8);
      Path manifestFile = staging.resolve(MANIFEST);
      Files.write(manifestFile, manifestBytes);
      fsync(manifestFile);
      fsyncDirectory(staging);
      try {
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        throw new IllegalStateException("artifact " + kind + "/" + name + "/" + version + " was published concurrently", e);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IllegalStateException("the artifact store needs a file system with atomic rename: " + root, e);
      }
      staging = null;
      fsyncDirectory(target.getParent());
      return Artifact.newBuilder()
          .setUri(target.toUri().toString())
          .setSha256(hex(digest(manifestBytes)))
          .setSizeBytes(size)
          .setFormat(format)
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot publish artifact " + kind + "/" + name + "/" + version + ": " + e.getMessage(), e);
    } finally {
      if (staging != null) {
        deleteRecursively(staging);
      }
    }
  }

  /** Versions of {@code kind/name} that exist, oldest first. */
  public List<Long> versions(String kind, String name) {
    Path dir = root.resolve(kind).resolve(name);
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString())
          .filter(n -> n.matches("\\d+"))
          .map(Long::parseLong)
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Optional<Long> latestVersion(String kind, String name) {
    List<Long> v = versions(kind, name);
    return v.isEmpty() ? Optional.empty() : Optional.of(v.get(v.size() - 1));
  }

  /**
   * Checks a downloaded or local artifact folder against the SHA-256 of a release: the manifest
   * must hash to {@code expectedSha256} and every file must match its manifest line.
   *
   * @throws IllegalStateException naming the first mismatch
   */
  public static void verify(Path folder, String expectedSha256) {
    try {
      Path manifestFile = folder.resolve(MANIFEST);
      if (!Files.exists(manifestFile)) {
        throw new IllegalStateException("artifact " + folder + " has no " + MANIFEST);
      }
      byte[] manifestBytes = Files.readAllBytes(manifestFile);
      String actual = hex(digest(manifestBytes));
      if (!actual.equalsIgnoreCase(expectedSha256)) {
        throw new IllegalStateException("artifact " + folder + ": manifest SHA-256 is " + actual + ", release says " + expectedSha256);
      }
      for (String line : new String(manifestBytes, StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank()) {
          continue;
        }
        String sha = line.substring(0, 64);
        String rel = line.substring(66);
        Path file = folder.resolve(rel).normalize();
        if (!file.startsWith(folder.normalize())) {
          throw new IllegalStateException("artifact " + folder + ": manifest path escapes the folder: " + rel);
        }
        if (!Files.exists(file) || !sha256(file).equals(sha)) {
          throw new IllegalStateException("artifact " + folder + ": " + rel + " is missing or does not match its SHA-256");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot verify artifact " + folder, e);
    }
  }

  public static String sha256(Path file) throws IOException {
    MessageDigest md = newDigest();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return hex(md.digest());
  }

  private static List<Path> listFiles(Path source) throws IOException {
    if (!Files.isDirectory(source)) {
      throw new IllegalArgumentException("not a folder: " + source);
    }
    try (Stream<Path> s = Files.walk(source)) {
      return s.filter(Files::isRegularFile).sorted(Comparator.comparing(Path::toString)).toList();
    }
  }

  private static void checkName(String what, String value) {
    if (value == null || !SAFE_NAME.matcher(value).matches()) {
      throw new IllegalArgumentException(what + " must be 1–128 of letters, digits, '.', '_', '-' (got \"" + value + "\")");
    }
  }

  static void fsync(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  static void fsyncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException ignored) {
      // Not every file system lets a directory be opened for sync; the rename is still atomic.
    }
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: a leftover ".staging-" folder is never mistaken for a version
    }
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] digest(byte[] bytes) {
    return newDigest().digest(bytes);
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }
}
