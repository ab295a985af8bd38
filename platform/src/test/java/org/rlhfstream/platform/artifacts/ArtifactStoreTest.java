package org.rlhfstream.platform.artifacts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.proto.v1.Artifact;

class ArtifactStoreTest {

  @TempDir Path tmp;

  private Path folder(String name, String... nameContent) throws Exception {
    Path dir = tmp.resolve(name);
    for (int i = 0; i < nameContent.length; i += 2) {
      Path f = dir.resolve(nameContent[i]);
      Files.createDirectories(f.getParent());
      Files.writeString(f, nameContent[i + 1]);
    }
    return dir;
  }

  @Test
  void publishedArtifactIsCompleteVersionedAndVerifiable() throws Exception {
    ArtifactStore store = new ArtifactStore(tmp.resolve("store"));
    Path src = folder("src", "config.json", "{}", "model.safetensors", "weights", "sub/extra.txt", "x");
    Artifact a = store.publish("reward-models", "rm", 1, src, "hf-safetensors");

    Path published = store.location("reward-models", "rm", 1);
    assertEquals(published.toUri().toString(), a.getUri());
    assertEquals("hf-safetensors", a.getFormat());
    assertEquals(2 + 7 + 1, a.getSizeBytes());
    assertEquals("weights", Files.readString(published.resolve("model.safetensors")));
    ArtifactStore.verify(published, a.getSha256());
    assertEquals(List.of(1L), store.versions("reward-models", "rm"));

    // Same content published again under a new version hashes the same.
    Artifact b = store.publish("reward-models", "rm", 2, src, "hf-safetensors");
    assertEquals(a.getSha256(), b.getSha256());
    assertEquals(2L, store.latestVersion("reward-models", "rm").orElseThrow());
  }

  @Test
  void versionsAreImmutable() throws Exception {
    ArtifactStore store = new ArtifactStore(tmp.resolve("store"));
    Path src = folder("src", "a.txt", "one");
    Artifact first = store.publish("adapters", "default", 1, src, "peft");
    Files.writeString(src.resolve("a.txt"), "two");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.publish("adapters", "default", 1, src, "peft"));
    assertTrue(e.getMessage().contains("already exists"), e.getMessage());
    ArtifactStore.verify(store.location("adapters", "default", 1), first.getSha256());
  }

  @Test
  void tamperingIsDetected() throws Exception {
    ArtifactStore store = new ArtifactStore(tmp.resolve("store"));
    Artifact a = store.publish("adapters", "default", 1, folder("src", "a.txt", "one", "b.txt", "two"), "peft");
    Path dir = store.location("adapters", "default", 1);
    Files.writeString(dir.resolve("b.txt"), "TWO");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> ArtifactStore.verify(dir, a.getSha256()));
    assertTrue(e.getMessage().contains("b.txt is missing or does not match"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> ArtifactStore.verify(dir, "00".repeat(32)));
  }

  @Test
  void badInputsChangeNothing() throws Exception {
    ArtifactStore store = new ArtifactStore(tmp.resolve("store"));
    assertThrows(IllegalArgumentException.class, () -> store.publish("adapters", "../escape", 1, folder("s", "a", "b"), "peft"));
    assertThrows(IllegalArgumentException.class, () -> store.publish("adapters", "ok", 0, folder("s2", "a", "b"), "peft"));
    Files.createDirectories(tmp.resolve("empty"));
    assertThrows(IllegalArgumentException.class, () -> store.publish("adapters", "ok", 1, tmp.resolve("empty"), "peft"));
    assertTrue(store.versions("adapters", "ok").isEmpty());
    try (var s = Files.list(store.root().resolve("adapters").resolve("ok"))) {
      assertEquals(0, s.count(), "no staging folder is left behind");
    }
  }
}
