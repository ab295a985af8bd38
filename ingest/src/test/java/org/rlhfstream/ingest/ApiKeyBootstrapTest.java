package org.rlhfstream.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiKeyBootstrapTest {

  @TempDir
  Path dataDir;

  @Test
  void theFirstStartWritesAKeyAloneToAPrivateFileAndLaterStartsReuseIt() throws Exception {
    ApiKeyBootstrap.Outcome first = ApiKeyBootstrap.ensure(IngestConfig.defaults(), dataDir.resolve("data"));

    Path file = dataDir.resolve("data").resolve("api-key");
    assertTrue(first.created());
    assertEquals(file, first.keyFile().orElseThrow());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    String key = Files.readString(file).trim();
    assertTrue(key.startsWith("rlhf_") && key.length() > 40, key);
    assertEquals(List.of(key + "\n"), List.of(Files.readString(file)), "the file holds the key alone");
    IngestConfig.ApiKey entry = first.config().auth().apiKeys().get(0);
    assertEquals(ApiKeyBootstrap.sha256Hex(key), entry.sha256(), "only the hash is kept");
    assertEquals(Set.of("default"), entry.tenants());

    ApiKeyBootstrap.Outcome second = ApiKeyBootstrap.ensure(IngestConfig.defaults(), dataDir.resolve("data"));
    assertFalse(second.created());
    assertEquals(entry, second.config().auth().apiKeys().get(0));
  }

  @Test
  void configuredKeysWinAndNoFileIsWritten() {
    IngestConfig configured = TestIngest.config();
    ApiKeyBootstrap.Outcome outcome = ApiKeyBootstrap.ensure(configured, dataDir);
    assertSame(configured, outcome.config());
    assertTrue(outcome.keyFile().isEmpty());
    assertFalse(Files.exists(dataDir.resolve("api-key")));
  }

  @Test
  void theHashIsTheSha256OfTheKeysUtf8Bytes() {
    // printf %s abc | sha256sum
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ApiKeyBootstrap.sha256Hex("abc"));
  }
}
