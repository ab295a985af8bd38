package org.rlhfstream.reward;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint folders {@code <dir>/<step, 12 digits>/}, each written whole into a hidden temporary
 * folder, synced, then renamed into place: a folder with a step name is always complete, so a
 * crash at any moment leaves the previous checkpoint intact.
 */
final class Checkpoints {

  private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);

  /** Writes a checkpoint's files into the folder it is given. */
  interface Writer {
    void write(Path folder) throws IOException;
  }

  private final Path dir;
  private FileChannel lockChannel;

  Checkpoints(Path dir) {
    this.dir = dir;
  }

  /**
   * Takes the lineage's lock: two trainers writing one checkpoint folder would each train on
   * what the other already did.
   *
   * @throws IllegalStateException if another process (or trainer) holds it
   */
  synchronized void lock() {
    try {
      Files.createDirectories(dir);
      lockChannel = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      if (lockChannel.tryLock() == null) {
        lockChannel.close();
        lockChannel = null;
        throw new IllegalStateException("another reward trainer is using " + dir + "; one trainer per reward model");
      }
    } catch (java.nio.channels.OverlappingFileLockException e) {
      throw new IllegalStateException("another reward trainer in this process is using " + dir, e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lock " + dir, e);
    }
  }

  synchronized void unlock() {
    if (lockChannel != null) {
      try {
        lockChannel.close(); // releases the lock
      } catch (IOException ignored) {
        // the lock goes with the process anyway
      }
      lockChannel = null;
    }
  }

  Path dir() {
    return dir;
  }

  Path folder(long step) {
    return dir.resolve(String.format("%012d", step));
  }

  /** Saves atomically; a checkpoint of the same step is replaced. */
  Path save(long step, Writer writer) {
    Path target = folder(step);
    Path tmp = null;
    try {
      Files.createDirectories(dir);
      tmp = Files.createTempDirectory(dir, ".tmp-" + step + "-");
      writer.write(tmp);
      syncTree(tmp);
      if (Files.exists(target)) {
        Path old = Files.createTempDirectory(dir, ".old-" + step + "-");
        Files.move(target, old.resolve("x"), StandardCopyOption.ATOMIC_MOVE);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(old);
      } else {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      }
      tmp = null;
      syncDir(dir);
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        deleteTree(tmp);
      }
    }
  }

  /** Complete checkpoints, newest first. */
  List<Path> list() {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("\\d{12}"))
          .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed())
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Optional<Path> latest() {
    List<Path> all = list();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(0));
  }

  static long stepOf(Path checkpoint) {
    return Long.parseLong(checkpoint.getFileName().toString());
  }

  /** Deletes all but the newest {@code keep} checkpoints and {@code protectedStep}; and stale temporaries. */
  void prune(int keep, long protectedStep) {
    List<Path> all = list();
    for (int i = keep; i < all.size(); i++) {
      if (stepOf(all.get(i)) != protectedStep) {
        deleteTree(all.get(i));
      }
    }
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(p -> p.getFileName().toString().startsWith(".tmp-") || p.getFileName().toString().startsWith(".old-"))
          .forEach(Checkpoints::deleteTree);
    } catch (IOException e) {
      log.warn("cannot list {} for clean-up: {}", dir, e.toString());
    }
  }

  private static void syncTree(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.toList()) {
        if (Files.isRegularFile(p)) {
          try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.force(true);
          }
        } else {
          syncDir(p);
        }
      }
    }
  }

  private static void syncDir(Path d) {
    try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException ignored) {
      // some file systems refuse to sync a directory; the rename stays atomic
    }
  }

  static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", root, e.toString());
    }
  }
}
