package org.rlhfstream.reward;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * An optional audit trail of which event ids a lineage trained on: one file per checkpoint,
 * {@code <dir>/<step>.ids}, holding the ids first trained since the previous checkpoint. A file
 * is synced before its checkpoint is written, and files newer than the checkpoint a restart
 * resumes from are deleted, so the ledger always matches the weights.
 */
final class TrainingLedger {

  private final Path dir; // null: disabled

  TrainingLedger(Path dir) {
    this.dir = dir;
  }

  static TrainingLedger disabled() {
    return new TrainingLedger(null);
  }

  void append(long step, List<String> eventIds) {
    if (dir == null || eventIds.isEmpty()) {
      return;
    }
    Path file = dir.resolve(String.format("%012d.ids", step));
    try {
      Files.createDirectories(dir);
      Files.write(file, (String.join("\n", eventIds) + "\n").getBytes(StandardCharsets.UTF_8));
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        ch.force(true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the training ledger " + file, e);
    }
  }

  /** Drops the files of checkpoints that were never completed (a crash came first). */
  void truncateAfter(long step) {
    for (Path f : files()) {
      if (stepOf(f) > step) {
        try {
          Files.delete(f);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot truncate the training ledger " + f, e);
        }
      }
    }
  }

  /** Every id trained on, in order; an id listed twice would mean it was trained twice. */
  List<String> trainedIds() {
    List<String> out = new ArrayList<>();
    for (Path f : files()) {
      try {
        Files.readAllLines(f, StandardCharsets.UTF_8).stream().filter(s -> !s.isEmpty()).forEach(out::add);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return out;
  }

  private List<Path> files() {
    if (dir == null || !Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("\\d{12}\\.ids")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long stepOf(Path f) {
    return Long.parseLong(f.getFileName().toString().substring(0, 12));
  }
}
