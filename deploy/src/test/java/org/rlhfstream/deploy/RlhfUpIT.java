package org.rlhfstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Runs the packaged {@code rlhf.jar up} as a user would, in its own process: it must report the
 * broker's address, accept connections there, and stop cleanly on SIGTERM.
 */
class RlhfUpIT {

  private static final Pattern HTTP_LINE = Pattern.compile("http\\s+http://127\\.0\\.0\\.1:(\\d+)");
  private static final Pattern KAFKA_LINE = Pattern.compile("kafka\\s+(127\\.0\\.0\\.1):(\\d+) \\(embedded broker");

  @Test
  void upReportsTheBrokerAddressAndStopsOnSigterm() throws Exception {
    Path jar = Path.of("target", "rlhf.jar").toAbsolutePath();
    assertTrue(Files.exists(jar), "package the jar first: " + jar);
    Path data = Files.createTempDirectory(Path.of("target"), "up-it-");
    Process up = new ProcessBuilder("java", "-jar", jar.toString(), "up",
        "--data-dir", data.toString(),
        "--set", "kafka.embedded.port=0", "--set", "kafka.embedded.controller-port=0", "--set", "http.port=0",
        "--set", "ingest.grpc.port=0")
        .redirectError(data.resolve("stderr.log").toFile())
        .start();
    try {
      BufferedReader stdout = new BufferedReader(new InputStreamReader(up.getInputStream(), StandardCharsets.UTF_8));
      List<String> lines = new ArrayList<>();
      Matcher kafka = null;
      Matcher http = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      String line;
      while (System.nanoTime() < deadline && (line = stdout.readLine()) != null) {
        lines.add(line);
        Matcher m = KAFKA_LINE.matcher(line);
        if (m.find()) {
          kafka = m;
        }
        Matcher h = HTTP_LINE.matcher(line);
        if (h.find()) {
          http = h;
        }
        if (line.startsWith("Press Ctrl-C")) {
          break;
        }
      }
      assertTrue(kafka != null, "no Kafka address in the banner: " + lines + "\nstderr: "
          + Files.readString(data.resolve("stderr.log")));
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(kafka.group(1), Integer.parseInt(kafka.group(2))), 5000);
      }
      assertTrue(Files.exists(data.resolve("kafka").resolve("kafka-logs").resolve("meta.properties")),
          "the broker keeps its data under --data-dir");

      assertTrue(http != null, "no HTTP address in the banner: " + lines);
      String base = "http://127.0.0.1:" + http.group(1);
      HttpClient client = HttpClient.newHttpClient();
      HttpResponse<String> ready = client.send(HttpRequest.newBuilder(URI.create(base + "/health/ready")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ready.statusCode(), ready.body());
      HttpResponse<String> metrics = client.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertTrue(metrics.body().contains("rlhf_reward_steps_total"), "reward metrics are exported");
      assertTrue(metrics.body().contains("rlhf_ingest_events_accepted_total"), "ingest metrics are exported");

      // Ingest: the first start wrote an API key for tenant "default"; a comparison sent with it is accepted.
      String key = Files.readString(data.resolve("api-key")).trim();
      HttpResponse<String> accepted = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/comparisons"))
              .header("Authorization", "Bearer " + key)
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString("{\"event_id\":\"up-it-1\",\"tenant\":\"default\","
                  + "\"prompt\":\"2+2?\",\"chosen\":\"4\",\"rejected\":\"5\"}"))
              .build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(202, accepted.statusCode(), accepted.body());

      up.destroy(); // SIGTERM
      assertTrue(up.waitFor(60, TimeUnit.SECONDS), "rlhf up did not stop on SIGTERM");
      assertEquals(143, up.exitValue(), "terminated by SIGTERM after a clean shutdown");
      assertTrue(Files.readString(data.resolve("stderr.log")).contains("Embedded Kafka broker at"),
          "the broker was closed by the shutdown hook");
    } finally {
      up.destroyForcibly();
    }
  }
}
